"""From Verilog to bitstream: boards and devices as data, toolchains (YoWASP or system), the build flow with
its fit check and post-synthesis simulation, the UART harness (RTL and host protocol), reports and flashing."""
from .boards import Board, Target, list_boards, load_board, resolve_target
from .devices import DEVICES, find_device
from .flow import BuildOptions, BuildResult, fit_check, run_build
from .report import compile_for_target, summary, write_human_report
from .toolchain import find_tool, require

__all__ = ["Board", "Target", "list_boards", "load_board", "resolve_target", "DEVICES", "find_device",
           "BuildOptions", "BuildResult", "fit_check", "run_build", "compile_for_target", "summary",
           "write_human_report", "find_tool", "require"]
