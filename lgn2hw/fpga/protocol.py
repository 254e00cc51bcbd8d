"""The UART harness protocol, host side (see docs/harness.md): frame encoding, answer parsing, CRC-8.

Requests::

    0xA5  CMD  LEN_LO  LEN_HI  PAYLOAD[LEN]  CRC8(CMD .. last payload byte)

Answers::

    0x5A  STATUS  LEN  PAYLOAD[LEN]  CRC8(STATUS .. last payload byte)

CRC-8 is polynomial 0x07, initial value 0, no reflection, no final XOR. The module is sans-IO: ``Client`` works
on any object with ``write(bytes)`` and ``read(n) -> bytes`` (a pyserial port, a simulated device).
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from ..errors import Lgn2hwError, UsageError

REQ_SYNC = 0xA5
ANS_SYNC = 0x5A
CMD_INFER = 0x01
CMD_INFO = 0x02
CMD_SELFTEST = 0x03     # run the stored self-test samples back to back at the core clock (compile --selftest)

OK = 0x00
BAD_CRC = 0x01
BAD_LENGTH = 0x02
BAD_COMMAND = 0x03
TIMEOUT = 0x04
BAD_SYNC = 0x05
STATUS_NAMES = {OK: "ok", BAD_CRC: "bad CRC", BAD_LENGTH: "bad length", BAD_COMMAND: "bad command",
                TIMEOUT: "frame timeout", BAD_SYNC: "byte outside a frame"}

INFO_MAGIC = b"LG"
PROTOCOL_VERSION = 1
MODE_BITS = 0
MODE_RAW = 1


class HarnessError(Lgn2hwError):
    """The device answered with an error, or an answer was malformed or missing."""


def crc8(data, crc: int = 0) -> int:
    for byte in bytes(data):
        crc ^= byte
        for _ in range(8):
            crc = ((crc << 1) ^ 0x07) & 0xFF if crc & 0x80 else (crc << 1) & 0xFF
    return crc


def encode_request(cmd: int, payload: bytes = b"") -> bytes:
    body = bytes([cmd, len(payload) & 0xFF, len(payload) >> 8]) + bytes(payload)
    return bytes([REQ_SYNC]) + body + bytes([crc8(body)])


def encode_answer(status: int, payload: bytes = b"") -> bytes:
    body = bytes([status, len(payload)]) + bytes(payload)
    return bytes([ANS_SYNC]) + body + bytes([crc8(body)])


@dataclass(frozen=True)
class DesignInfo:
    """What the INFO command reports about the design in the FPGA."""
    n_inputs: int
    n_classes: int
    mode: int             # MODE_BITS or MODE_RAW
    count_bytes: int      # bytes per class count in an answer, 0 when the design sends only the class
    sample_bytes: int     # payload length of an INFER request
    count_signed: bool = False   # counts are two's complement

    def pack(self) -> bytes:
        return (INFO_MAGIC + bytes([PROTOCOL_VERSION]) + self.n_inputs.to_bytes(2, "little")
                + bytes([self.n_classes, self.mode, self.count_bytes]) + self.sample_bytes.to_bytes(2, "little")
                + bytes([int(self.count_signed)]))

    @classmethod
    def unpack(cls, payload: bytes) -> "DesignInfo":
        if len(payload) != 11 or payload[:2] != INFO_MAGIC:
            raise HarnessError(f"INFO answer must be 11 bytes starting with 'LG', not {payload.hex()}",
                               hint="is the board running an lgn2hw bitstream?")
        if payload[2] != PROTOCOL_VERSION:
            raise HarnessError(f"harness protocol version must be {PROTOCOL_VERSION}, not {payload[2]}")
        return cls(int.from_bytes(payload[3:5], "little"), payload[5], payload[6], payload[7],
                   int.from_bytes(payload[8:10], "little"), bool(payload[10]))

    @property
    def answer_bytes(self) -> int:
        return 1 + self.n_classes * self.count_bytes


def pack_sample(row, info: DesignInfo) -> bytes:
    """One sample as an INFER payload: bits packed LSB first (bit i in byte i//8, bit i%8), or raw bytes."""
    row = np.asarray(row).reshape(-1)
    if info.mode == MODE_RAW:
        return row.astype(np.uint8).tobytes()
    return np.packbits(row.astype(np.uint8), bitorder="little").tobytes()


class AnswerParser:
    """Incremental answer parser: ``feed(bytes)`` returns the list of complete (status, payload) answers."""

    def __init__(self):
        self.buf = bytearray()

    def feed(self, data: bytes) -> list:
        self.buf += data
        out = []
        while True:
            if self.buf and self.buf[0] != ANS_SYNC:
                raise HarnessError(f"answer must start with 0x5A, not 0x{self.buf[0]:02x}",
                                   hint="another program may be using the port, or the baud rate is wrong")
            if len(self.buf) < 3 or len(self.buf) < 4 + self.buf[2]:
                return out
            n = self.buf[2]
            frame, self.buf = bytes(self.buf[:4 + n]), self.buf[4 + n:]
            if crc8(frame[1:-1]) != frame[-1]:
                raise HarnessError(f"answer CRC must be 0x{crc8(frame[1:-1]):02x}, not 0x{frame[-1]:02x}",
                                   hint="line noise or a wrong baud rate")
            out.append((frame[1], frame[3:-1]))


class Client:
    """Request/answer exchange over a byte stream; every answer is checked (sync, CRC, status, size)."""

    def __init__(self, port):
        self.port = port
        self.parser = AnswerParser()

    def exchange(self, cmd: int, payload: bytes = b"") -> bytes:
        self.port.write(encode_request(cmd, payload))
        while True:
            buf = self.parser.buf
            need = 3 - len(buf) if len(buf) < 3 else 4 + buf[2] - len(buf)
            data = self.port.read(max(1, need))
            if not data:
                raise HarnessError("no answer from the device (read timed out)",
                                   hint="check the port, the baud rate and that the bitstream is loaded")
            answers = self.parser.feed(data)
            if answers:
                status, body = answers[0]
                if status != OK:
                    err = HarnessError(f"device answered {STATUS_NAMES.get(status, f'status 0x{status:02x}')}",
                                       hint="the request was rejected; see docs/harness.md")
                    err.status = status
                    raise err
                return body

    def info(self) -> DesignInfo:
        return DesignInfo.unpack(self.exchange(CMD_INFO))

    def infer(self, sample: bytes, info: DesignInfo):
        """(class, counts or None) for one packed sample."""
        body = self.exchange(CMD_INFER, sample)
        if len(body) != info.answer_bytes:
            raise HarnessError(f"INFER answer must be {info.answer_bytes} bytes, not {len(body)}")
        cls = body[0]
        counts = None
        if info.count_bytes:
            cb = info.count_bytes
            counts = np.array([int.from_bytes(body[1 + c * cb:1 + (c + 1) * cb], "little", signed=info.count_signed)
                               for c in range(info.n_classes)], dtype=np.int64)
            if counts[cls] != counts.max():
                raise HarnessError(f"answer class {cls} does not hold the largest count {counts.tolist()}")
        if cls >= info.n_classes:
            raise HarnessError(f"answer class must be below {info.n_classes}, not {cls}")
        return cls, counts


@dataclass(frozen=True)
class SelfTest:
    """What the SELFTEST command reports: the stored samples run back to back through the core."""
    samples: int          # stored samples run
    correct: int          # answers equal to the stored label
    mismatches: int       # answers different from the class the interpreter gave at compile time
    first_mismatch: int   # index of the first such sample, -1 when none
    cycles: int           # core clock cycles from the first sample in to the last answer out
    clock_hz: int         # the core clock the bitstream was built for

    PAYLOAD = 16

    @classmethod
    def unpack(cls, payload: bytes) -> "SelfTest":
        if len(payload) != cls.PAYLOAD:
            raise HarnessError(f"SELFTEST answer must be {cls.PAYLOAD} bytes, not {len(payload)}")
        u = [int.from_bytes(payload[a:b], "little") for a, b in ((0, 2), (2, 4), (4, 6), (6, 8), (8, 12), (12, 16))]
        return cls(u[0], u[1], u[2], -1 if u[3] == 0xFFFF else u[3], u[4], u[5] * 1000)

    def pack(self) -> bytes:
        return (self.samples.to_bytes(2, "little") + self.correct.to_bytes(2, "little")
                + self.mismatches.to_bytes(2, "little") + (self.first_mismatch & 0xFFFF).to_bytes(2, "little")
                + self.cycles.to_bytes(4, "little") + (self.clock_hz // 1000).to_bytes(4, "little"))

    @property
    def accuracy(self) -> float:
        return self.correct / self.samples if self.samples else 0.0

    @property
    def samples_per_s(self) -> float:
        return self.samples * self.clock_hz / self.cycles if self.cycles else 0.0


def selftest(port) -> SelfTest:
    """Ask the device to run its stored self-test samples; a design built without them answers bad command."""
    try:
        return SelfTest.unpack(Client(port).exchange(CMD_SELFTEST))
    except HarnessError as err:
        if getattr(err, "status", None) == BAD_COMMAND:
            raise HarnessError("the bitstream holds no self-test samples",
                               hint="build it with lgn2hw compile ... --selftest N") from None
        raise


def check_samples(x, info: DesignInfo) -> np.ndarray:
    x = np.asarray(x)
    width = info.n_inputs if info.mode == MODE_BITS else info.sample_bytes
    if x.ndim < 2 or int(np.prod(x.shape[1:])) != width:
        raise UsageError(f"inputs must have shape (N, {width}), not {tuple(x.shape)}",
                         hint="the design takes raw 8-bit features" if info.mode == MODE_RAW else
                         "the design takes 0/1 input bits")
    x = x.reshape(len(x), -1)
    if not (np.issubdtype(x.dtype, np.integer) or x.dtype == np.bool_) or (x.size and (
            x.min() < 0 or x.max() > (255 if info.mode == MODE_RAW else 1))):
        raise UsageError("inputs must be integers in 0..255 (raw features)" if info.mode == MODE_RAW
                         else "inputs must be 0/1 bits")
    return x


def run(port, x, progress=None):
    """Stream every sample of ``x`` through the device; (classes (N,), counts (N, k) or None)."""
    client = Client(port)
    info = client.info()
    x = check_samples(x, info)
    classes = np.zeros(len(x), dtype=np.int64)
    counts = np.zeros((len(x), info.n_classes), dtype=np.int64) if info.count_bytes else None
    for i, row in enumerate(x):
        try:
            c, k = client.infer(pack_sample(row, info), info)
        except HarnessError as err:
            raise err.at(f"sample {i}") from None
        classes[i] = c
        if counts is not None:
            counts[i] = k
        if progress:
            progress(i + 1)
    return info, classes, counts
