"""The host side of the harness protocol against a fake serial device (a Python model of the board that answers
from the reference interpreter), including the error paths; and 'lgn2hw run' end to end on that device."""
from __future__ import annotations

import re

import numpy as np
import pytest

from lgn2hw.cli import main
from lgn2hw.fpga import protocol as P
from lgn2hw.ir import evaluate

from netlists import random_layered


class FakeDevice:
    """Answers requests like the harness does; ``corrupt`` flips a bit of the next answer, ``mute`` drops it."""

    def __init__(self, nl, counts=True):
        self.nl = nl
        self.info = P.DesignInfo(nl.n_inputs, nl.n_classes, P.MODE_BITS, 2 if counts else 0, (nl.n_inputs + 7) // 8)
        self.out = bytearray()
        self.corrupt = self.mute = False
        self.requests = 0
        self.selftest = None          # a protocol.SelfTest the device reports, None: built without samples

    def write(self, data):
        data = bytes(data)
        assert data[0] == P.REQ_SYNC
        cmd, n = data[1], data[2] | data[3] << 8
        payload, crc = data[4:4 + n], data[4 + n]
        self.requests += 1
        if P.crc8(data[1:4 + n]) != crc:
            ans = P.encode_answer(P.BAD_CRC)
        elif cmd == P.CMD_INFO:
            ans = P.encode_answer(P.OK, self.info.pack())
        elif cmd == P.CMD_SELFTEST:
            ans = P.encode_answer(P.OK, self.selftest.pack()) if self.selftest else P.encode_answer(P.BAD_COMMAND)
        elif n != self.info.sample_bytes:
            ans = P.encode_answer(P.BAD_LENGTH)
        else:
            bits = np.unpackbits(np.frombuffer(payload, np.uint8), bitorder="little")[:self.nl.n_inputs]
            counts = evaluate(self.nl, bits[None, :])[0]
            body = bytes([int(counts.argmax())])
            if self.info.count_bytes:
                body += b"".join(int(c).to_bytes(2, "little") for c in counts)
            ans = P.encode_answer(P.OK, body)
        if self.corrupt:
            ans = ans[:3] + bytes([ans[3] ^ 1]) + ans[4:]
            self.corrupt = False
        if not self.mute:
            self.out += ans

    def read(self, n):
        data, self.out = bytes(self.out[:n]), self.out[n:]
        return data


@pytest.fixture
def nl():
    return random_layered(np.random.default_rng(3), n_inputs=19, layers=3, width=20, classes=4)


@pytest.mark.parametrize("counts", [True, False])
def test_run_streams_and_checks_every_answer(nl, counts):
    x = np.random.default_rng(0).integers(0, 2, (50, nl.n_inputs)).astype(np.uint8)
    dev = FakeDevice(nl, counts)
    info, classes, got = P.run(dev, x)
    want = evaluate(nl, x)
    assert classes.tolist() == want.argmax(1).tolist()
    assert (got.tolist() == want.tolist()) if counts else got is None
    assert dev.requests == 51      # INFO + one request per sample


def test_corrupted_answer_is_an_error(nl):
    dev = FakeDevice(nl)
    client = P.Client(dev)
    info = client.info()
    dev.corrupt = True
    with pytest.raises(P.HarnessError, match=r"^answer CRC must be 0x[0-9a-f]{2}, not 0x[0-9a-f]{2}$"):
        client.infer(bytes(info.sample_bytes), info)


def test_error_status_and_silence_are_errors(nl):
    dev = FakeDevice(nl)
    client = P.Client(dev)
    info = client.info()
    with pytest.raises(P.HarnessError, match=r"^device answered bad length$"):
        client.infer(bytes(info.sample_bytes + 1), info)
    dev.mute = True
    with pytest.raises(P.HarnessError, match=r"^no answer from the device \(read timed out\)$"):
        client.infer(bytes(info.sample_bytes), info)


def test_wrong_sample_shape_is_a_usage_error(nl):
    with pytest.raises(P.UsageError, match=rf"^inputs must have shape \(N, {nl.n_inputs}\), not \(3, 5\)$"):
        P.run(FakeDevice(nl), np.zeros((3, 5), np.uint8))


def test_lgn2hw_run_writes_counts(nl, tmp_path, monkeypatch, capsys):
    x = np.random.default_rng(1).integers(0, 2, (9, nl.n_inputs)).astype(np.uint8)
    np.save(tmp_path / "x.npy", x)
    dev = FakeDevice(nl)
    _fake_serial(monkeypatch, dev, 115200)
    assert main(["run", "--port", "/dev/ttyFAKE", str(tmp_path / "x.npy"), "-o", str(tmp_path / "c.npy")]) == 0
    assert np.load(tmp_path / "c.npy").tolist() == evaluate(nl, x).tolist()
    assert re.match(r"^wrote .*c\.npy: 9 answers", capsys.readouterr().out)


def test_lgn2hw_run_bad_port(tmp_path, capsys):
    pytest.importorskip("serial")
    np.save(tmp_path / "x.npy", np.zeros((1, 3), np.uint8))
    assert main(["run", "--port", str(tmp_path / "nope"), str(tmp_path / "x.npy"), "-o", str(tmp_path / "c.npy")]) == 1
    assert re.match(r"^lgn2hw: error: cannot open .*nope: ", capsys.readouterr().err)
    assert not (tmp_path / "c.npy").exists()


def _fake_serial(monkeypatch, dev, want_baud):
    serial = pytest.importorskip("serial")

    class Port:
        def __init__(self, name, baud, timeout):
            assert (name, baud) == ("/dev/ttyFAKE", want_baud)

        def __enter__(self):
            return self

        def __exit__(self, *a):
            return False

        def reset_input_buffer(self):
            pass

        def write(self, data):
            dev.write(data)

        def read(self, n):
            return dev.read(n)

    monkeypatch.setattr(serial, "Serial", Port)


def test_lgn2hw_run_selftest(nl, monkeypatch, capsys):
    """run --selftest prints what the board measured; the baud rate comes from --board; a mismatch is an error,
    and a bitstream without samples says how to build one."""
    dev = FakeDevice(nl)
    dev.selftest = P.SelfTest(30, 29, 0, -1, 41, 100_000_000)
    _fake_serial(monkeypatch, dev, 1_000_000)                     # the ULX3S board file's rate
    assert main(["run", "--port", "/dev/ttyFAKE", "--board", "ulx3s-85f", "--selftest"]) == 0
    out = capsys.readouterr().out
    assert "30 samples, 29 correct (accuracy 96.67 %), 0 mismatches" in out
    assert "41 cycles at 100 MHz = 73,170,732 samples/s" in out
    dev.selftest = P.SelfTest(30, 28, 1, 17, 41, 100_000_000)
    assert main(["run", "--port", "/dev/ttyFAKE", "--board", "ulx3s-85f", "--selftest"]) == 1
    captured = capsys.readouterr()
    assert "(first: sample 17)" in captured.out
    assert re.match(r"^lgn2hw: error: the board gave 1 of 30 answers that differ from the interpreter's \(first: "
                    r"sample 17\)$", captured.err.splitlines()[0])
    dev.selftest = None
    assert main(["run", "--port", "/dev/ttyFAKE", "--board", "ulx3s-85f", "--selftest"]) == 1
    assert capsys.readouterr().err.startswith("lgn2hw: error: the bitstream holds no self-test samples\n")
    assert main(["run", "--port", "/dev/ttyFAKE", "--selftest", "x.npy"]) == 1
    assert "takes no INPUTS" in capsys.readouterr().err
