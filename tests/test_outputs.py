"""Never destroy what lgn2hw did not write: every command that writes refuses an output path that holds something
else (before any work), unless --force; an earlier lgn2hw output is replaced; a SIGTERM mid-build ends the tools and
leaves nothing behind."""
from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pytest

from lgn2hw.cli import main

ROOT = Path(__file__).resolve().parents[1]
EXAMPLE = ROOT / "examples" / "digits_lgn.pt"
REFUSED = "lgn2hw: error: "


def run(capsys, *argv):
    code = main([str(a) for a in argv])
    out, err = capsys.readouterr()
    return code, out, err


def _compile(capsys, out, *extra):
    return run(capsys, "compile", EXAMPLE, "--stop-after", "verilog", "-o", out, *extra)


def _user_files(d: Path) -> dict:
    d.mkdir(parents=True, exist_ok=True)
    (d / "thesis.tex").write_text("years of work")
    (d / "src").mkdir(exist_ok=True)
    (d / "src" / "main.c").write_text("int main;")
    return {p.relative_to(d): p.read_bytes() for p in d.rglob("*") if p.is_file()}


def _unchanged(d: Path, before: dict) -> bool:
    return all((d / rel).read_bytes() == data for rel, data in before.items())


def test_new_empty_and_earlier_output_directories(tmp_path, capsys):
    assert _compile(capsys, tmp_path / "new")[0] == 0
    assert (tmp_path / "new" / ".lgn2hw-output").is_file() and (tmp_path / "new" / "lgn_core.v").is_file()
    (tmp_path / "new" / "lgn_core_old_name.v").write_text("x")     # an entry the marker does not list stays
    code, _, err = _compile(capsys, tmp_path / "new", "--top", "other")
    assert code == 0, err
    assert (tmp_path / "new" / "other.v").is_file() and not (tmp_path / "new" / "lgn_core.v").exists()
    (tmp_path / "empty").mkdir()
    assert _compile(capsys, tmp_path / "empty")[0] == 0
    assert not list(tmp_path.glob(".*.part")) and not list((tmp_path / "new").glob(".*.part"))


def test_a_directory_with_user_files_is_refused(tmp_path, capsys):
    before = _user_files(tmp_path / "mydir")
    code, out, err = _compile(capsys, tmp_path / "mydir")
    assert code == 1 and err.startswith(REFUSED) and "did not write" in err.splitlines()[0]
    assert "--force" in err and _unchanged(tmp_path / "mydir", before)
    assert sorted(p.name for p in (tmp_path / "mydir").iterdir()) == ["src", "thesis.tex"]


def test_force_writes_beside_user_files(tmp_path, capsys):
    before = _user_files(tmp_path / "mydir")
    assert _compile(capsys, tmp_path / "mydir", "--force")[0] == 0
    assert _unchanged(tmp_path / "mydir", before) and (tmp_path / "mydir" / "lgn_core.v").is_file()
    assert _compile(capsys, tmp_path / "mydir")[0] == 0         # now it is also an earlier lgn2hw output
    assert _unchanged(tmp_path / "mydir", before)


def test_an_existing_file_is_not_replaced_by_a_directory(tmp_path, capsys):
    (tmp_path / "afile").write_text("keep me")
    code, _, err = _compile(capsys, tmp_path / "afile")
    assert code == 1 and err.startswith(REFUSED) and (tmp_path / "afile").read_text() == "keep me"


def test_the_current_and_the_home_directory(tmp_path, capsys, monkeypatch):
    home = tmp_path / "home"
    before = _user_files(home)
    monkeypatch.setenv("HOME", str(home))
    monkeypatch.chdir(home)
    for out in (".", str(home), os.path.expanduser("~")):
        code, _, err = _compile(capsys, out)
        assert code == 1 and err.startswith(REFUSED) and "Traceback" not in err, err
    assert _unchanged(home, before) and not list(home.glob(".*")) and not list(tmp_path.glob(".*"))
    work = tmp_path / "work"
    work.mkdir()
    monkeypatch.chdir(work)
    assert _compile(capsys, ".")[0] == 0                          # an empty current directory is fine
    assert (work / "lgn_core.v").is_file() and Path.cwd() == work
    assert _compile(capsys, ".")[0] == 0                          # and so is an earlier output there
    assert not list(work.glob(".*.part"))


def test_predict_output_file(tmp_path, capsys):
    x = np.zeros((3, 320), np.uint8)
    np.save(tmp_path / "x.npy", x)
    (tmp_path / "counts.npy").write_text("a user's file")
    args = ["predict", EXAMPLE, tmp_path / "x.npy", "-o", tmp_path / "counts.npy"]
    code, _, err = run(capsys, *args)
    assert code == 1 and "was not written by lgn2hw" in err and (tmp_path / "counts.npy").read_text() == "a user's file"
    assert run(capsys, *args, "--force")[0] == 0
    assert np.load(tmp_path / "counts.npy").shape == (3, 10)
    assert run(capsys, *args)[0] == 0                             # lgn2hw's own output is replaced
    (tmp_path / "counts.npy").write_bytes(b"changed by the user")
    assert run(capsys, *args)[0] == 1                              # ... unless someone changed it since


def test_train_refuses_before_training(tmp_path, capsys):
    (tmp_path / "model.pt").write_text("a user's model")
    t0 = time.monotonic()
    code, _, err = run(capsys, "train", "--dataset", "digits", "--epochs", "50", "-o", tmp_path / "model.pt")
    assert code == 1 and err.startswith(REFUSED) and time.monotonic() - t0 < 10
    assert (tmp_path / "model.pt").read_text() == "a user's model"


def test_dump_after_refuses_a_user_file(tmp_path, capsys):
    target = tmp_path / f"{EXAMPLE.stem}.after-dce.netlist"
    target.write_text("mine")
    code, _, err = run(capsys, "info", EXAMPLE, "--dump-after", "dce", "--dump-dir", tmp_path)
    assert code == 1 and err.startswith(REFUSED) and target.read_text() == "mine"


def _tool_processes(marker: str, where: Path) -> list:
    """Processes whose command line holds ``marker`` and whose working directory lies under ``where`` (the build
    directory, even after it was removed)."""
    found = []
    for pid in os.listdir("/proc"):
        if pid.isdigit():
            try:
                cmd = Path(f"/proc/{pid}/cmdline").read_bytes().replace(b"\0", b" ").decode(errors="replace")
                cwd = os.readlink(f"/proc/{pid}/cwd")
            except OSError:
                continue
            if marker in cmd and cwd.startswith(str(where)):
                found.append((pid, cmd, cwd))
    return found


def _default_signals():
    # a child inherits ignored signals (SIGINT from some test runners' parents, SIGHUP under nohup), and Python
    # keeps them ignored: start from the defaults, as a program run from a shell does
    for sig in (signal.SIGINT, signal.SIGTERM, signal.SIGHUP):
        signal.signal(sig, signal.SIG_DFL)


def _signal_during_synthesis(tmp_path, sig, argv):
    """Run ``argv`` in ``tmp_path`` (a build cache of its own, so synthesis really runs), send ``sig`` once yosys
    is at work in the hidden build directory, and return the process and its stderr."""
    env = {**os.environ, "LGN2HW_BUILD_CACHE": str(tmp_path / "cache")}
    proc = subprocess.Popen(argv, cwd=tmp_path, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                            preexec_fn=_default_signals)
    deadline = time.monotonic() + 300
    while time.monotonic() < deadline and proc.poll() is None:
        if list(tmp_path.glob(".out.*.part/build/synth-core.run.log")) and _tool_processes("synth-core.ys", tmp_path):
            break
        time.sleep(0.2)
    assert proc.poll() is None, proc.communicate()
    time.sleep(1.0)
    proc.send_signal(sig)
    return proc, proc.communicate(timeout=60)[1]


@pytest.mark.needs("ecp5")
@pytest.mark.parametrize("sig", [signal.SIGTERM, signal.SIGINT], ids=["SIGTERM", "SIGINT"])
def test_a_signal_during_synthesis_ends_everything(tmp_path, sig):
    """The signal a CI timeout or ``kill`` sends, and Ctrl-C, in the middle of yosys: lgn2hw ends at once with one
    line, yosys is gone, and neither the output nor its hidden build directory is left behind."""
    # lgn2hw starts with SIGINT at its default, as under a shell's Ctrl-C: a process whose parent ignores SIGINT
    # (some test runners' parents do) inherits the ignored disposition, and Python then keeps it ignored
    proc, err = _signal_during_synthesis(tmp_path, sig, [sys.executable, "-m", "lgn2hw", "compile", str(EXAMPLE),
                                                         "--board", "ecp5", "-o", "out"])
    assert proc.returncode == 1
    lines = err.strip().splitlines()
    assert len(lines) == 1 and lines[0] in ("lgn2hw: error: terminated by SIGTERM", "lgn2hw: error: interrupted"), err
    assert [p.name for p in tmp_path.iterdir() if p.name != "cache"] == []
    time.sleep(0.5)
    assert _tool_processes("synth-core.ys", tmp_path) == []


@pytest.mark.needs("ecp5")
@pytest.mark.parametrize("sig", [signal.SIGTERM, signal.SIGHUP], ids=["SIGTERM", "SIGHUP"])
def test_a_signal_during_a_library_compile_leaves_nothing(tmp_path, sig):
    """A script calling ``lgn2hw.compile`` (no handler of its own): the signal ends the script as before, but the
    build's hidden directory goes and yosys ends with it."""
    script = "import sys, lgn2hw; lgn2hw.compile(sys.argv[1], 'out', board='ecp5')"
    proc, err = _signal_during_synthesis(tmp_path, sig, [sys.executable, "-c", script, str(EXAMPLE)])
    assert proc.returncode != 0 and "Terminated" in err
    assert [p.name for p in tmp_path.iterdir() if p.name != "cache"] == []
    time.sleep(0.5)
    assert _tool_processes("synth-core.ys", tmp_path) == []


def test_a_library_call_keeps_the_programs_own_signal_handlers():
    from lgn2hw.errors import signals_unwind
    seen = []
    before = signal.signal(signal.SIGTERM, lambda s, f: seen.append(s))
    try:
        with signals_unwind():
            os.kill(os.getpid(), signal.SIGTERM)
            time.sleep(0.05)
        assert seen == [signal.SIGTERM]
        with signals_unwind(take=True):
            with pytest.raises(BaseException) as info:
                os.kill(os.getpid(), signal.SIGTERM)
                time.sleep(0.5)
        assert type(info.value).__name__ == "Terminated"
        assert signal.getsignal(signal.SIGTERM) is not signal.SIG_DFL and seen == [signal.SIGTERM]
    finally:
        signal.signal(signal.SIGTERM, before)


def test_a_tool_runs_in_its_own_group_within_the_callers_session(tmp_path):
    """A tool gets a process group of its own (so it ends with whatever ends lgn2hw's wait) but stays in the
    caller's session: a new session is a new scheduler autogroup on Linux, where `nice lgn2hw ...` no longer
    lowers the tool's share of the CPU."""
    from lgn2hw.fpga.toolchain import TOOLS, Tool
    probe = "import os; print(os.getsid(0), os.getpgid(0), os.getpid(), os.nice(0))"
    tool = Tool(TOOLS["yosys"], [sys.executable, "-c", probe], "env")
    log = tmp_path / "probe.log"
    tool.run([], tmp_path, log, step="probe")
    sid, pgid, pid, nice = (int(v) for v in log.read_text().splitlines()[-1].split())
    assert sid == os.getsid(0)
    assert pgid == pid != os.getpgid(0)
    assert nice == os.nice(0)


@pytest.mark.needs("ecp5", "iverilog")
def test_sigterm_while_postsim_runs_beside_synthesis_ends_both(tmp_path):
    """With two cores the post-synthesis simulation runs in a thread beside the board's synthesis: SIGTERM then
    ends the simulator's processes as well as yosys, and leaves nothing behind."""
    if len(os.sched_getaffinity(0)) < 2:
        pytest.skip("one core: post-synthesis simulation runs after synthesis, not beside it")
    env = {**os.environ, "LGN2HW_BUILD_CACHE": str(tmp_path / "cache")}
    # Icarus on 4,000 samples: a simulation that outlasts the board's synthesis
    proc = subprocess.Popen([sys.executable, "-m", "lgn2hw", "compile", str(EXAMPLE), "--board", "ecp5",
                             "--postsim", "4000", "--postsim-sim", "icarus", "-o", "out"], cwd=tmp_path, env=env,
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, preexec_fn=_default_signals)
    deadline = time.monotonic() + 300
    while time.monotonic() < deadline and proc.poll() is None:
        if _tool_processes("top.ys", tmp_path) and _tool_processes("postsim.vvp", tmp_path):
            break
        time.sleep(0.2)
    assert proc.poll() is None, proc.communicate()
    assert _tool_processes("top.ys", tmp_path) and _tool_processes("postsim.vvp", tmp_path)
    proc.send_signal(signal.SIGTERM)
    _, err = proc.communicate(timeout=60)
    assert proc.returncode == 1
    assert err.strip().splitlines() == ["lgn2hw: error: terminated by SIGTERM"], err
    assert [p.name for p in tmp_path.iterdir() if p.name != "cache"] == []
    time.sleep(0.5)
    assert _tool_processes("", tmp_path) == []          # yosys, the simulator and whatever they started
