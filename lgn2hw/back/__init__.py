"""The backend: a netlist as a streaming hardware core, written as Verilog.

``emit_verilog(nl, EmitOptions(...)) -> EmitResult`` with ``files`` (name -> Verilog text, deterministic),
``top``, ``latency`` (cycles) and ``report`` (JSON-ready). The top module (``lgn_core`` unless renamed) has

=================  =====  ==================================================================================
``clk``, ``rst``   in     one clock; ``rst`` (synchronous, active high) clears only the valid pipeline
``in_valid``       in     a sample is present this cycle (gaps allowed, never back-pressured)
``in_bits``        in     ``n_inputs`` bits, bit i = input i of the netlist (absent when ``n_inputs == 0``)
``in_features``    in     instead of ``in_bits`` with ``features=True``: raw feature f as an unsigned 8-bit
                          integer at ``[8*f +: 8]``; bit i = ``feature[f_i] > floor(threshold_i)`` on chip,
                          equal to the model's encoding for integer features 0..255
``out_valid``      out    the outputs carry the sample that had ``in_valid`` exactly ``latency`` cycles before
``out_class``      out    argmax of the counts; equal counts: the lowest class index wins
``out_counts``     out    optional; class c's exact count (class_offset included) at ``[c*CW +: CW]``,
                          two's complement when ``report["count_signed"]`` (only if an offset is negative)
=================  =====  ==================================================================================

A sample accepted at clock edge t (``in_valid`` high) is on the outputs, with ``out_valid`` high, for the edge
t + latency. The gate logic is generated as plain Verilog (``<top>_gates.v``, one vector per logic level,
register banks every ``levels_per_stage`` levels), its LUTs as the device's LUT primitives with ``lut_cells`` (set
by ``EmitOptions.for_target``); the popcount, argmax and stream control are Amaranth.
"""
from ._core import ArgMax, LgnCore, PopCount, count_shape, popcount_latency
from ._gates import comparator_thresholds
from ._verilog import (
    DEFAULT_FREQ_MHZ,
    HEADER,
    EmitOptions,
    EmitResult,
    auto_levels_per_stage,
    emit_verilog,
    resolve_pipeline,
)

__all__ = ["emit_verilog", "EmitOptions", "EmitResult", "HEADER", "DEFAULT_FREQ_MHZ", "auto_levels_per_stage",
           "resolve_pipeline", "comparator_thresholds", "PopCount", "ArgMax", "LgnCore", "count_shape",
           "popcount_latency"]
