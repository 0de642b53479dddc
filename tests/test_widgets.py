"""Tests for tutorial_lib.widgets: the live slider and its static twin, without a frontend."""

from __future__ import annotations

import base64
import re

import matplotlib

matplotlib.use("Agg")

import IPython.display  # noqa: E402
import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402
import pytest  # noqa: E402

from tutorial_lib import audio, widgets  # noqa: E402

SR = 8000


@pytest.fixture(autouse=True)
def _close_figures():
    yield
    plt.close("all")


def draw(value: float):
    """Opens a figure and does not return it (as a notebook cell would)."""
    fig, ax = plt.subplots(figsize=(2, 1.5))
    ax.plot([0, 1], [0, value])
    ax.set_title(f"v={value}")


def returns_fig(value: float):
    fig, ax = plt.subplots(figsize=(2, 1.5))
    ax.plot([0, 1], [0, value])
    return fig


def returns_player(value: float):
    t = np.arange(800) / SR
    return audio.play((0.1 * value * np.sin(2 * np.pi * 440 * t)).astype(np.float32), SR)


def panels(html: str) -> list[str]:
    return re.findall(r'<div class="tl-explore-panel"', html)


def test_static_mode_reads_the_environment(monkeypatch):
    monkeypatch.delenv(widgets.STATIC_ENV_VAR, raising=False)
    assert widgets.static_mode() is False
    monkeypatch.setenv(widgets.STATIC_ENV_VAR, "1")
    assert widgets.static_mode() is True
    monkeypatch.setenv(widgets.STATIC_ENV_VAR, "0")
    assert widgets.static_mode() is False


def test_static_twin_has_one_panel_per_value(monkeypatch):
    monkeypatch.setenv(widgets.STATIC_ENV_VAR, "1")
    before = plt.get_fignums()
    out = widgets.build_explorer(draw, [0.1, 0.5, 1.0], label="sigma")
    assert isinstance(out, IPython.display.HTML)
    html = out.data
    assert len(panels(html)) == 3
    for v in ("0.1", "0.5", "1"):
        assert f"sigma = {v}</div>" in html
    images = re.findall(r'<img src="data:image/png;base64,([^"]+)"', html)
    assert len(images) == 3
    assert base64.b64decode(images[0])[:8] == b"\x89PNG\r\n\x1a\n"
    assert plt.get_fignums() == before  # the figures fn opened were closed


def test_static_twin_with_returned_figures_players_and_prints():
    def fn(v):
        print(f"value is {v}")
        return [returns_fig(v), returns_player(v)]

    html = widgets.build_explorer(fn, [1, 2], static=True, label="t").data
    assert len(panels(html)) == 2
    assert html.count("<img") == 2  # the returned figure is drawn once, not twice
    assert html.count("<audio") == 2 and "data:audio/wav;base64," in html
    assert "value is 2" in html


def test_static_twin_subsamples_with_a_note():
    calls = []

    def fn(v):
        calls.append(v)
        return f"<{v}>"

    html = widgets.build_explorer(fn, list(range(50)), static=True, label="t").data
    assert len(panels(html)) == widgets.MAX_STATIC_VALUES == 8
    assert calls[0] == 0 and calls[-1] == 49 and len(calls) == 8
    assert "8 of 50 values" in html
    assert "&lt;49&gt;" in html  # text output is escaped


def test_explore_displays_the_static_twin(monkeypatch):
    shown = []
    monkeypatch.setattr(IPython.display, "display", lambda obj: shown.append(obj))
    monkeypatch.setenv(widgets.STATIC_ENV_VAR, "1")
    assert widgets.explore(returns_player, [0.5, 1.0], label="gain") is None
    (obj,) = shown
    assert isinstance(obj, IPython.display.HTML) and len(panels(obj.data)) == 2


def test_interactive_slider_calls_fn_on_change(monkeypatch):
    import ipywidgets as w

    monkeypatch.delenv(widgets.STATIC_ENV_VAR, raising=False)
    calls = []

    def fn(v):
        calls.append(v)
        draw(v)

    box = widgets.build_explorer(fn, np.array([0.25, 0.5, 0.75]), label="t", format="{:.2f}")
    slider, out = box.children
    assert isinstance(slider, w.SelectionSlider) and isinstance(out, w.Output)
    assert slider.description == "t"
    assert list(slider.options) == [("0.25", 0), ("0.50", 1), ("0.75", 2)]
    assert calls == [0.25]  # first value drawn at once
    slider.value = 2
    assert calls == [0.25, 0.75]
    assert plt.get_fignums() == []  # figures shown in the output area, then closed


def test_explore_displays_the_widget(monkeypatch):
    import ipywidgets as w

    shown = []
    monkeypatch.setattr(IPython.display, "display", lambda *objs: shown.extend(objs))
    monkeypatch.delenv(widgets.STATIC_ENV_VAR, raising=False)
    widgets.explore(returns_fig, [1, 2, 3], label="step")
    assert any(isinstance(o, w.VBox) for o in shown)


def test_duplicate_labels_are_made_distinct():
    box = widgets.build_explorer(lambda v: None, [1.0, 1.0000001], static=False, format="{:.1f}")
    labels = [lab for lab, _ in box.children[0].options]
    assert len(set(labels)) == 2


def test_bad_input():
    with pytest.raises(TypeError, match="fn"):
        widgets.build_explorer("not a function", [1, 2])
    with pytest.raises(ValueError, match="empty"):
        widgets.build_explorer(print, [])
    with pytest.raises(TypeError, match="values"):
        widgets.build_explorer(print, 5)
    with pytest.raises(TypeError, match="format"):
        widgets.build_explorer(print, [1], format=3)
    with pytest.raises(ValueError, match="1-D"):
        widgets.build_explorer(print, np.zeros((2, 2)))
