"""Tests for tutorial_lib.plotting (Agg backend, no display)."""

from __future__ import annotations

import importlib

import matplotlib

matplotlib.use("Agg")

import librosa  # noqa: E402
import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402
import pytest  # noqa: E402
import torch  # noqa: E402
from matplotlib.axes import Axes  # noqa: E402
from scipy.signal import lfilter  # noqa: E402

from tutorial_lib import plotting  # noqa: E402

SR = 16000


@pytest.fixture(autouse=True)
def _close_figures():
    yield
    plt.close("all")


def sine(freq: float = 440.0, seconds: float = 0.5, amp: float = 0.5) -> np.ndarray:
    t = np.arange(int(seconds * SR)) / SR
    return (amp * np.sin(2 * np.pi * freq * t)).astype(np.float32)


def test_import_changes_no_style_and_set_style_does():
    with matplotlib.rc_context():
        matplotlib.rcParams["axes.grid"] = False
        importlib.reload(plotting)
        assert matplotlib.rcParams["axes.grid"] is False  # import did nothing
        applied = plotting.set_style()
        assert matplotlib.rcParams["axes.grid"] is True
        assert matplotlib.rcParams["figure.constrained_layout.use"] is True
        assert applied["font.size"] == matplotlib.rcParams["font.size"]


def test_waveform_mono_time_axis_in_seconds():
    x = sine(seconds=0.25)
    ax = plotting.waveform(x, SR, title="A sine")
    assert isinstance(ax, Axes)
    assert (
        "(s)" in ax.get_xlabel() and ax.get_ylabel() == "Amplitude" and ax.get_title() == "A sine"
    )
    assert ax.get_xlim() == pytest.approx((0.0, 0.25))
    (line,) = ax.get_lines()
    np.testing.assert_allclose(line.get_xdata()[-1], (len(x) - 1) / SR)
    np.testing.assert_allclose(line.get_ydata(), x, rtol=1e-6)


def test_waveform_stereo_torch_and_long_clip():
    fig, ax0 = plt.subplots()
    x = torch.from_numpy(np.stack([sine(), sine(220)]))
    ax = plotting.waveform(x, SR, ax=ax0)
    assert ax is ax0 and len(ax.get_lines()) == 2
    assert [t.get_text() for t in ax.get_legend().get_texts()] == ["left", "right"]
    long = sine(seconds=3.0)  # drawn as an envelope
    ax2 = plotting.waveform(long, SR)
    assert ax2.get_xlim() == pytest.approx((0.0, 3.0))
    assert len(ax2.collections) == 1


def test_waveform_rejects_bad_input():
    with pytest.raises(ValueError, match="batch"):
        plotting.waveform(np.zeros((2, 1, 100), dtype=np.float32), SR)
    with pytest.raises(ValueError, match="sr"):
        plotting.waveform(sine(), 3)
    with pytest.raises(TypeError, match="ax"):
        plotting.waveform(sine(), SR, ax="left")
    with pytest.raises(ValueError, match="NaN"):
        plotting.waveform(np.array([0.0, np.nan], dtype=np.float32), SR)


@pytest.mark.parametrize("kind", ["mel", "linear"])
def test_spectrogram_axes_and_colorbar(kind):
    x = sine(1000, seconds=0.5)
    ax = plotting.spectrogram(x, SR, kind=kind, n_fft=512, hop_length=128, n_mels=40)
    assert isinstance(ax, Axes)
    assert "(s)" in ax.get_xlabel() and "Hz" in ax.get_ylabel()
    assert ax.get_xlim() == pytest.approx((0.0, 0.5))
    cbar_axes = [a for a in ax.figure.axes if a is not ax]
    assert len(cbar_axes) == 1 and "dB" in cbar_axes[0].get_ylabel()
    mesh = ax.collections[0]
    values = np.asarray(mesh.get_array()).reshape(-1)
    # Cross-check the drawn values against librosa.
    if kind == "mel":
        S = librosa.feature.melspectrogram(
            y=x, sr=SR, n_fft=512, hop_length=128, n_mels=40, pad_mode="reflect"
        )
        n_rows = 40
    else:
        S = np.abs(librosa.stft(x, n_fft=512, hop_length=128, pad_mode="reflect")) ** 2
        n_rows = 257
    ref = librosa.power_to_db(S, ref=1.0, top_db=80.0)
    assert ref.shape[0] == n_rows
    np.testing.assert_allclose(values, ref.reshape(-1), atol=2e-2)
    # The brightest row sits at the sine's frequency (1 kHz).
    row = int(np.argmax(ref.mean(axis=1)))
    lo, hi = ax.get_ylim()
    assert lo < 1000 < hi and ax.get_yscale() == ("function" if kind == "mel" else "linear")
    if kind == "linear":
        assert row == round(1000 / (SR / 512))


def test_spectrogram_without_colorbar_and_fixed_range():
    ax = plotting.spectrogram(sine(), SR, colorbar=False, vmin=-80, vmax=0, title="t")
    assert len(ax.figure.axes) == 1 and ax.get_title() == "t"
    assert ax.collections[0].get_clim() == (-80, 0)


def test_spectrogram_rejects_bad_input():
    with pytest.raises(ValueError, match="kind"):
        plotting.spectrogram(sine(), SR, kind="cqt")
    with pytest.raises(ValueError, match="mono"):
        plotting.spectrogram(np.stack([sine(), sine()]), SR)
    with pytest.raises(ValueError, match="n_mels"):
        plotting.spectrogram(sine(), SR, n_mels=0)


def test_schedule_curves():
    t = np.arange(1000)
    beta = np.linspace(1e-4, 0.02, 1000)
    alpha_bar = np.cumprod(1 - beta)
    ax = plotting.schedule_curves(
        {"alpha_bar": alpha_bar, "beta": torch.from_numpy(beta)}, x=t, ylabel="value", logy=True
    )
    assert isinstance(ax, Axes) and ax.get_yscale() == "log"
    assert [line.get_label() for line in ax.get_lines()] == ["alpha_bar", "beta"]
    assert ax.get_xlabel() == "t" and ax.get_ylabel() == "value"
    np.testing.assert_allclose(ax.get_lines()[0].get_ydata(), alpha_bar)
    ax2 = plotting.schedule_curves({"a": [1, 2, 3]})
    np.testing.assert_array_equal(ax2.get_lines()[0].get_xdata(), [0, 1, 2])


def test_schedule_curves_rejects_bad_input():
    with pytest.raises(ValueError, match="same length"):
        plotting.schedule_curves({"a": [1, 2], "b": [1, 2, 3]})
    with pytest.raises(ValueError, match="x"):
        plotting.schedule_curves({"a": [1, 2]}, x=[0, 1, 2])
    with pytest.raises(ValueError, match="logy"):
        plotting.schedule_curves({"snr": [1.0, 0.0]}, logy=True)
    with pytest.raises(TypeError, match="curves"):
        plotting.schedule_curves([1, 2, 3])
    with pytest.raises(ValueError, match="1-D"):
        plotting.schedule_curves({"a": np.zeros((2, 2))})


class FakeHistory:
    def as_dict(self):
        return {"loss": [4.0, 3.0, 2.5, 2.0, 1.0], "step": [10, 20, 30, 40, 50]}


def test_loss_curves_with_ema_overlay():
    rng = np.random.default_rng(0)
    loss = 1.0 + np.exp(-np.arange(200) / 50) + 0.1 * rng.random(200)
    ax = plotting.loss_curves({"loss": loss}, smooth=0.9)
    assert isinstance(ax, Axes)
    assert ax.get_xlabel() == "Training step" and ax.get_ylabel() == "Loss"
    raw, ema = ax.get_lines()
    np.testing.assert_allclose(raw.get_ydata(), loss)
    # Independent reference: a first-order IIR filter, debiased.
    ref = lfilter([0.1], [1.0, -0.9], loss) / (1 - 0.9 ** np.arange(1, 201))
    np.testing.assert_allclose(ema.get_ydata(), ref, rtol=1e-10)


def test_loss_curves_accepts_history_objects_and_lists():
    ax = plotting.loss_curves(FakeHistory(), smooth=0.0)
    np.testing.assert_array_equal(ax.get_lines()[0].get_xdata(), [10, 20, 30, 40, 50])
    ax2 = plotting.loss_curves(torch.tensor([3.0, 2.0, 1.0]), logy=True)
    assert ax2.get_yscale() == "log"
    ax3 = plotting.loss_curves({"loss": [2.0, 1.0], "val_loss": [1.5], "val_step": [1]})
    assert ax3.get_lines()[-1].get_label() == "validation loss"


def test_loss_curves_rejects_bad_input():
    with pytest.raises(ValueError, match="'loss'"):
        plotting.loss_curves({"acc": [1, 2]})
    with pytest.raises(ValueError, match="smooth"):
        plotting.loss_curves({"loss": [1, 2]}, smooth=1.0)
    with pytest.raises(ValueError, match="step"):
        plotting.loss_curves({"loss": [1, 2], "step": [1]})
    with pytest.raises(TypeError, match="history"):
        plotting.loss_curves(42)


def test_audio_panel():
    fig, axes = plotting.audio_panel(torch.from_numpy(sine()), SR, title="clip", n_mels=40)
    assert len(axes) == 2 and all(isinstance(a, Axes) for a in axes)
    assert axes[0].get_ylabel() == "Amplitude" and "Hz" in axes[1].get_ylabel()
    assert fig._suptitle.get_text() == "clip"
    assert plt.fignum_exists(fig.number)  # not closed
