"""Tests for tutorial_lib.checkpoints: safetensors save/load, atomic writes, reference registry."""

from __future__ import annotations

import hashlib
import json
import os

import pytest
import torch
from torch import nn

from tutorial_lib import checkpoints as ck


class Net(nn.Module):
    def __init__(self, width: int = 8) -> None:
        super().__init__()
        self.config = {"width": width}
        self.lin = nn.Linear(4, width)
        self.norm = nn.BatchNorm1d(width)  # has an int64 buffer (num_batches_tracked)
        self.out = nn.Linear(width, 2)

    def forward(self, x):
        return self.out(self.norm(self.lin(x)))


def make_net(width: int = 8, seed: int = 0) -> Net:
    torch.manual_seed(seed)
    net = Net(width)
    with torch.no_grad():
        net.norm.running_mean.normal_()
        net.norm.num_batches_tracked.fill_(7)
    return net


def assert_same_weights(a: nn.Module, b: nn.Module) -> None:
    sa, sb = a.state_dict(), b.state_dict()
    assert sa.keys() == sb.keys()
    for k in sa:
        assert torch.equal(sa[k], sb[k]), k


def read_header(path) -> dict:
    """Parse a safetensors header directly (independent of the safetensors package)."""
    data = open(path, "rb").read()
    n = int.from_bytes(data[:8], "little")
    return json.loads(data[8 : 8 + n])


# ---------------------------------------------------------------------------- save / load


def test_round_trip_fp32(tmp_path):
    net = make_net()
    path = ck.save(tmp_path / "net.safetensors", net, config=net.config, metadata={"steps": 3})
    state, config, meta = ck.load(path)
    assert config == {"width": 8}
    assert meta == {"steps": 3}
    for k, v in net.state_dict().items():
        assert torch.equal(state[k], v) and state[k].dtype == v.dtype
    fresh = make_net(seed=1)
    assert ck.load_into(fresh, path) is fresh
    assert_same_weights(fresh, net)
    # the config and metadata are JSON strings in the standard header field
    header = read_header(path)["__metadata__"]
    assert json.loads(header["tutorial_lib.config"]) == {"width": 8}
    assert header["format"] == "pt"


def test_round_trip_fp16_halves_size(tmp_path):
    torch.manual_seed(0)
    net = nn.Sequential(nn.Linear(64, 64), nn.BatchNorm1d(64))
    p32 = ck.save(tmp_path / "a.safetensors", net)
    p16 = ck.save(tmp_path / "b.safetensors", net, dtype=torch.float16)
    state, _, _ = ck.load(p16)
    assert state["0.weight"].dtype == torch.float16
    assert state["1.num_batches_tracked"].dtype == torch.int64  # integer buffers kept
    assert p16.stat().st_size < 0.6 * p32.stat().st_size
    fresh = nn.Sequential(nn.Linear(64, 64), nn.BatchNorm1d(64))
    ck.load_into(fresh, p16)
    assert fresh[0].weight.dtype == torch.float32
    # exactly the float16 rounding of the original, converted back
    assert torch.equal(fresh[0].weight, net[0].weight.detach().half().float())


def test_fp16_overflow_is_an_error(tmp_path):
    with pytest.raises(ValueError, match="overflow"):
        ck.save(tmp_path / "x.safetensors", {"w": torch.tensor([1e6])}, dtype=torch.float16)
    assert not (tmp_path / "x.safetensors").exists()


def test_state_dict_with_shared_tensors(tmp_path):
    w = torch.randn(3, 3)
    path = ck.save(tmp_path / "tied.safetensors", {"a": w, "b": w, "c": w[0]})
    state, config, meta = ck.load(path)
    assert torch.equal(state["a"], w) and torch.equal(state["c"], w[0])
    assert config is None and meta == {}


def test_save_rejects_bad_input(tmp_path):
    with pytest.raises(TypeError, match="model_or_state_dict"):
        ck.save(tmp_path / "x.safetensors", [1, 2])
    with pytest.raises(TypeError, match="entry 'n'"):
        ck.save(tmp_path / "x.safetensors", {"n": 3})
    with pytest.raises(TypeError, match="config"):
        ck.save(tmp_path / "x.safetensors", {"w": torch.ones(1)}, config={"t": torch.ones(1)})
    with pytest.raises(ValueError, match="dtype"):
        ck.save(tmp_path / "x.safetensors", {"w": torch.ones(1)}, dtype=torch.int8)
    assert list(tmp_path.iterdir()) == []


# ---------------------------------------------------------------------------- atomic writes


def test_atomic_write_keeps_old_file_on_error(tmp_path):
    path = tmp_path / "f.bin"
    path.write_bytes(b"old contents")
    with pytest.raises(RuntimeError, match="boom"):
        with ck.atomic_write(path) as f:
            f.write(b"partial new contents")
            raise RuntimeError("boom")
    assert path.read_bytes() == b"old contents"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["f.bin"]  # no temp file left


def test_atomic_write_no_partial_new_file(tmp_path):
    path = tmp_path / "sub" / "new.txt"
    with pytest.raises(KeyboardInterrupt):
        with ck.atomic_write(path, "w") as f:
            f.write("half")
            raise KeyboardInterrupt
    assert not path.exists()
    assert list(path.parent.iterdir()) == []


def test_atomic_write_success_and_text_mode(tmp_path):
    path = tmp_path / "a" / "b.json"
    with ck.atomic_write(path, "w") as f:
        json.dump({"ü": 1}, f)
    assert json.loads(path.read_text(encoding="utf-8")) == {"ü": 1}
    os.chmod(path, 0o640)
    with ck.atomic_write(path) as f:
        f.write(b"2")
    assert path.read_bytes() == b"2"
    assert path.stat().st_mode & 0o777 == 0o640  # permissions of the replaced file kept
    with pytest.raises(ValueError, match="mode"):
        with ck.atomic_write(path, "a"):
            pass
    with pytest.raises(IsADirectoryError):
        with ck.atomic_write(tmp_path):
            pass


def test_save_failing_mid_write_keeps_old_checkpoint(tmp_path, monkeypatch):
    path = ck.save(tmp_path / "m.safetensors", {"w": torch.zeros(2)})
    before = path.read_bytes()

    def broken_fsync(fd):
        raise OSError("disk full")

    monkeypatch.setattr(os, "fsync", broken_fsync)
    with pytest.raises(OSError, match="disk full"):
        ck.save(path, {"w": torch.ones(2)})
    assert path.read_bytes() == before
    assert [p.name for p in tmp_path.iterdir()] == ["m.safetensors"]


# ---------------------------------------------------------------------------- refusing bad files


def test_load_refuses_pickle_without_unpickling(tmp_path, monkeypatch):
    path = tmp_path / "model.pt"
    torch.save({"w": torch.ones(2)}, path)

    def no_unpickling(*args, **kwargs):
        raise AssertionError("torch.load must never be called")

    monkeypatch.setattr(torch, "load", no_unpickling)
    with pytest.raises(ValueError, match="pickle"):
        ck.load(path)
    legacy = tmp_path / "legacy.pt"
    legacy.write_bytes(b"\x80\x04\x95" + b"\x00" * 40)
    with pytest.raises(ValueError, match="never unpickles"):
        ck.load(legacy)


def test_load_refuses_truncated_and_foreign_files(tmp_path):
    good = ck.save(tmp_path / "g.safetensors", {"w": torch.randn(100)})
    cut = tmp_path / "cut.safetensors"
    cut.write_bytes(good.read_bytes()[:-50])
    with pytest.raises(ValueError, match="truncated|corrupt"):
        ck.load(cut)
    junk = tmp_path / "junk.safetensors"
    junk.write_bytes(b"hello world, not weights")
    with pytest.raises(ValueError, match="not a safetensors file"):
        ck.load(junk)
    lfs = tmp_path / "lfs.safetensors"
    lfs.write_text("version https://git-lfs.github.com/spec/v1\noid sha256:abc\n")
    with pytest.raises(ValueError, match="LFS"):
        ck.load(lfs)
    with pytest.raises(FileNotFoundError, match="no file"):
        ck.load(tmp_path / "missing.safetensors")


# ---------------------------------------------------------------------------- load_into checks


def test_load_into_shape_mismatch_lists_keys(tmp_path):
    path = ck.save(tmp_path / "w8.safetensors", make_net(8))
    with pytest.raises(ValueError, match="different shapes") as err:
        ck.load_into(make_net(16), path)
    assert "lin.weight" in str(err.value) and "(8, 4)" in str(err.value)


def test_load_into_config_mismatch(tmp_path):
    path = ck.save(tmp_path / "w8.safetensors", make_net(8), config={"width": 8, "act": "relu"})
    with pytest.raises(ValueError, match="width: expected 8, got 16"):
        ck.load_into(make_net(8), path, config={"width": 16, "act": "relu"})
    # the model's own .config is used when config= is not given
    with pytest.raises(ValueError, match="act: expected 'relu', missing"):
        ck.load_into(make_net(8), path)


def test_load_into_missing_unexpected_and_prefix(tmp_path):
    net = make_net()
    state = {f"model.{k}": v for k, v in net.state_dict().items()}
    state["extra"] = torch.zeros(1)
    path = ck.save(tmp_path / "t.safetensors", state)
    with pytest.raises(ValueError, match="prefix='model.'") as err:
        ck.load_into(make_net(seed=1), path)
    assert "missing from the file" in str(err.value)
    assert "unexpected in the file" in str(err.value)
    fresh = ck.load_into(make_net(seed=1), path, prefix="model.")
    assert_same_weights(fresh, net)
    # strict=False loads the common names only
    partial = {k: v for k, v in net.state_dict().items() if k.startswith("lin.")}
    p2 = ck.save(tmp_path / "p.safetensors", partial)
    other = make_net(seed=2)
    ck.load_into(other, p2, strict=False)
    assert torch.equal(other.lin.weight, net.lin.weight)
    assert not torch.equal(other.out.weight, net.out.weight)


def test_sha256_matches_hashlib(tmp_path):
    path = tmp_path / "f.bin"
    data = os.urandom(3 * (1 << 20) + 17)
    path.write_bytes(data)
    assert ck.sha256(path) == hashlib.sha256(data).hexdigest()


def test_config_diff():
    assert ck.config_diff({"a": (1, 2), "b": {"c": 1}}, {"a": [1, 2], "b": {"c": 1}}) == []
    diff = ck.config_diff({"a": 1, "b": {"c": 1}, "d": 0}, {"a": 2, "b": {"c": 3}, "e": 0})
    assert diff == [
        "a: expected 1, got 2",
        "b.c: expected 1, got 3",
        "d: expected 0, missing",
        "e: not expected, got 0",
    ]


# ---------------------------------------------------------------------------- reference registry


def test_shipped_weights_folder_is_valid_and_small():
    folder = ck.weights_dir()
    assert (folder / "registry.json").is_file()
    assert ck.weights_size() < ck.MAX_WEIGHTS_BYTES
    for name, ref in ck.references().items():
        assert ref.path.is_file(), f"{name}: {ref.file} is missing"
        assert ck.sha256(ref.path) == ref.sha256, f"{name}: stale hash"


def make_registry(tmp_path, net, config, name="tiny"):
    ckpt = ck.save(tmp_path / "src.safetensors", net, config=config)
    wdir = tmp_path / "weights"
    ref = ck.add_reference(
        ckpt,
        name,
        recipe="tiny_recipe",
        steps=1234,
        metric={"final_loss": 0.5},
        description="A tiny test net.",
        weights_dir=wdir,
    )
    return wdir, ref


def test_add_reference_and_lookup(tmp_path):
    net = make_net()
    wdir, ref = make_registry(tmp_path, net, {"width": 8})
    raw = json.loads((wdir / "registry.json").read_text())
    assert raw == [ref.to_dict()]
    assert raw[0]["sha256"] == hashlib.sha256((wdir / "tiny.safetensors").read_bytes()).hexdigest()
    assert raw[0]["config"] == {"width": 8}
    assert ck.reference("tiny", weights_dir=wdir) == ref
    assert list(ck.references(weights_dir=wdir)) == ["tiny"]
    with pytest.raises(ValueError, match="'tiny'"):
        ck.reference("tinny", weights_dir=wdir)
    with pytest.raises(ValueError, match="empty"):
        ck.reference("x", weights_dir=tmp_path / "nowhere")


def test_add_reference_size_limit(tmp_path, monkeypatch):
    monkeypatch.setattr(ck, "MAX_WEIGHTS_BYTES", 100)
    with pytest.raises(ValueError, match="MiB limit"):
        make_registry(tmp_path, make_net(), {"width": 8})


def test_bad_registry_entry(tmp_path):
    (tmp_path / "registry.json").write_text(json.dumps([{"name": "x", "file": "x.safetensors"}]))
    with pytest.raises(ValueError, match="missing keys"):
        ck.references(weights_dir=tmp_path)


def test_load_or_train_trains_when_missing(tmp_path, capsys):
    calls = []
    net = make_net()
    out = ck.load_or_train("tiny", net, calls.append, config={"width": 8}, weights_dir=tmp_path)
    assert out is net and calls == [net]
    assert "training instead" in capsys.readouterr().out


def test_load_or_train_loads_when_present(tmp_path, capsys):
    ref_net = make_net(seed=0)
    wdir, _ = make_registry(tmp_path, ref_net, {"width": 8})
    capsys.readouterr()

    def train_fn(model):
        raise AssertionError("must not train when the reference exists")

    net = ck.load_or_train(
        "tiny", make_net(seed=5), train_fn, config={"width": 8}, weights_dir=wdir
    )
    assert_same_weights(net, ref_net)
    printed = capsys.readouterr().out
    assert "Loaded reference checkpoint 'tiny'" in printed and "1,234" in printed
    assert "final_loss=0.5" in printed


def test_load_or_train_trains_when_file_missing(tmp_path, capsys):
    wdir, ref = make_registry(tmp_path, make_net(), {"width": 8})
    ref.path.unlink()
    calls = []
    with pytest.warns(ck.ReferenceMissingWarning, match="not the reference.*Fix: restore"):
        ck.load_or_train("tiny", make_net(), calls.append, config={"width": 8}, weights_dir=wdir)
    assert len(calls) == 1
    assert "missing" in capsys.readouterr().out


def test_load_or_train_config_mismatch(tmp_path):
    wdir, _ = make_registry(tmp_path, make_net(), {"width": 8, "depth": 2})
    with pytest.raises(ValueError, match="depth: expected 2, got 3"):
        ck.load_or_train(
            "tiny", make_net(), print, config={"width": 8, "depth": 3}, weights_dir=wdir
        )


def test_load_or_train_hash_mismatch(tmp_path):
    wdir, ref = make_registry(tmp_path, make_net(), {"width": 8})
    data = bytearray(ref.path.read_bytes())
    data[-1] ^= 0xFF  # flip bits in the last weight: still a valid file, different hash
    ref.path.write_bytes(bytes(data))
    with pytest.raises(ValueError, match="corrupt .*or stale"):
        ck.load_or_train("tiny", make_net(), print, config={"width": 8}, weights_dir=wdir)


def test_load_or_train_bad_args(tmp_path):
    with pytest.raises(TypeError, match="train_fn"):
        ck.load_or_train("x", make_net(), None, config={}, weights_dir=tmp_path)
    with pytest.raises(TypeError, match="model"):
        ck.load_or_train("x", "net", print, config={}, weights_dir=tmp_path)
    with pytest.raises(TypeError, match="config"):
        ck.load_or_train("x", make_net(), print, config=[1], weights_dir=tmp_path)


def test_load_message_lists_the_plain_metrics_first():
    metric = {f"fd_{k}": 1.0 for k in "abcdefgh"} | {"fd": 2.0, "class_accuracy": 0.5}
    text = ck._format_metric(metric, "drums", most=3)
    assert text.startswith("fd=2, class_accuracy=0.5, fd_a=1, ... (7 more")
    assert "tl.checkpoints.reference('drums').metric" in text
    assert ck._format_metric({"final_loss": 0.25}, "x") == "final_loss=0.25"
    assert ck._format_metric({}, "x") == "none recorded"
    tables = {"final_loss": 0.25, "guidance": {"1.0": {"fd": 3.0}}, "rows": [1, 2]}
    assert ck._format_metric(tables, "x") == (
        "final_loss=0.25, ... (2 more in tl.checkpoints.reference('x').metric)"
    )


def test_set_metric_puts_one_entry_and_keeps_the_rest(tmp_path):
    net = make_net()
    wdir, ref = make_registry(tmp_path, net, {"width": 8})
    new = ck.set_metric("tiny", "curve", {"rows": [1, 2]}, weights_dir=wdir)
    assert new.metric == {**ref.metric, "curve": {"rows": [1, 2]}}
    assert (new.sha256, new.recipe, new.steps, new.description, new.config) == (
        ref.sha256, ref.recipe, ref.steps, ref.description, ref.config
    )  # fmt: skip
    assert ck.reference("tiny", weights_dir=wdir) == new
    again = ck.set_metric("tiny", "curve", {"rows": [3]}, weights_dir=wdir)  # replaces the key
    assert again.metric["curve"] == {"rows": [3]}
    with pytest.raises(ValueError, match="key"):
        ck.set_metric("tiny", "", 1, weights_dir=wdir)
    with pytest.raises(ValueError, match="'tiny'"):
        ck.set_metric("tinny", "curve", 1, weights_dir=wdir)
