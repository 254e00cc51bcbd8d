"""The core clock from the board's PLL: divider settings for a requested frequency, and the PLL instance.

:func:`plan_pll` searches a family's divider ranges for the highest output frequency at or below the request
(``--core-freq``), with the VCO and phase-detector frequencies inside the data-sheet limits; the result is data
(:class:`Pll`: the primitive's parameters and the frequency it gives). :func:`pll_instance` makes the Amaranth
``Instance``. The whole board harness (UART and core) then runs at that clock, its UART divisor computed from it,
so no signal crosses between clock domains.

=========  =============  =================================================================================
family     primitive      relation and limits used
=========  =============  =================================================================================
ecp5       EHXPLLL        fout = fin * CLKFB_DIV / CLKI_DIV (feedback from CLKOP), VCO = fout * CLKOP_DIV in
                          400..800 MHz, PFD = fin / CLKI_DIV in 3.125..400 MHz (Lattice TN1263; Trellis'
                          ecppll searches the same space)
ice40      SB_PLL40_CORE  fout = fin * (DIVF + 1) / ((DIVR + 1) * 2**DIVQ) (SIMPLE feedback), VCO 533..1066 MHz,
                          PFD 10..133 MHz, FILTER_RANGE from the PFD (Lattice iCE40 sysCLOCK PLL guide; icepll)
gowin      rPLL           fout = fin * (FBDIV_SEL + 1) / (IDIV_SEL + 1), VCO = fout * ODIV_SEL (2..128) in
                          400..1200 MHz (GW1N-9C) or 500..1250 MHz (GW2A-18C), PFD >= 3 MHz, fout >= 3.125 MHz
                          and at most 600 MHz (GW1N-9C) or 500 MHz (GW2A-18C) (Gowin DS117 / DS961)
=========  =============  =================================================================================

GateMate's CC_PLL is not supported: a GateMate board runs at its oscillator's clock.
"""
from __future__ import annotations

import math
from dataclasses import dataclass, field

from ..errors import UsageError

GOWIN_LIMITS = {   # device -> (VCO min, VCO max, output max) in MHz
    "GW1NR-9C": (400.0, 1200.0, 600.0),
    "GW2AR-18C": (500.0, 1250.0, 500.0),
}
GOWIN_ODIV = (2, 4, 8, 16, 32, 48, 64, 80, 96, 112, 128)
ICE40_FILTER = ((17.0, 1), (26.0, 2), (44.0, 3), (66.0, 4), (101.0, 5))   # PFD below MHz -> FILTER_RANGE


@dataclass(frozen=True)
class Pll:
    family: str
    primitive: str
    fin_mhz: float
    fout_mhz: float
    vco_mhz: float
    params: dict = field(default_factory=dict)

    def as_dict(self) -> dict:
        return {"primitive": self.primitive, "fin_mhz": self.fin_mhz, "fout_mhz": round(self.fout_mhz, 4),
                "vco_mhz": round(self.vco_mhz, 4), "params": dict(self.params)}


def _best(cands, want):
    """The candidate with the highest output at or below ``want`` (ties: the VCO nearest the middle of its
    range, then the smallest dividers); None when there is none."""
    ok = [c for c in cands if c[0] <= want + 1e-9]
    return max(ok, key=lambda c: (round(c[0], 9), -c[1])) if ok else None


def plan_pll(family: str, device: str, fin_mhz: float, want_mhz: float) -> Pll:
    """Divider settings for ``want_mhz`` from ``fin_mhz``: the highest output frequency not above it."""
    fin, want = float(fin_mhz), float(want_mhz)
    cands = []
    if family == "ecp5":
        for idiv in range(1, 129):
            pfd = fin / idiv
            if not 3.125 <= pfd <= 400:
                continue
            for fb in range(1, 81):
                fout = pfd * fb
                for odiv in range(max(1, math.ceil(400 / fout - 1e-9)), min(128, math.floor(800 / fout + 1e-9)) + 1):
                    vco = fout * odiv
                    if 400 <= vco <= 800:
                        cands.append((fout, abs(vco - 600), vco, {"CLKI_DIV": idiv, "CLKFB_DIV": fb,
                                                                  "CLKOP_DIV": odiv, "CLKOP_CPHASE": odiv - 1}))
        primitive = "EHXPLLL"
    elif family == "ice40":
        for divr in range(16):
            pfd = fin / (divr + 1)
            if not 10 <= pfd <= 133:
                continue
            for divf in range(128):
                vco = pfd * (divf + 1)
                if not 533 <= vco <= 1066:
                    continue
                for divq in range(1, 7):
                    filt = next((r for lim, r in ICE40_FILTER if pfd < lim), 6)
                    cands.append((vco / 2 ** divq, abs(vco - 800), vco, {"DIVR": divr, "DIVF": divf, "DIVQ": divq,
                                                                         "FILTER_RANGE": filt}))
        primitive = "SB_PLL40_CORE"
    elif family == "gowin":
        vmin, vmax, omax = GOWIN_LIMITS[device]
        for idiv in range(64):
            pfd = fin / (idiv + 1)
            if pfd < 3:
                continue
            for fb in range(64):
                fout = pfd * (fb + 1)
                if not 3.125 <= fout <= omax:
                    continue
                for odiv in GOWIN_ODIV:
                    vco = fout * odiv
                    if vmin <= vco <= vmax:
                        cands.append((fout, abs(vco - (vmin + vmax) / 2), vco,
                                      {"IDIV_SEL": idiv, "FBDIV_SEL": fb, "ODIV_SEL": odiv}))
        primitive = "rPLL"
    else:
        raise UsageError(f"a core clock from a PLL is supported on ecp5, ice40 and gowin, not {family}",
                         hint="leave --core-freq unset: the core runs at the board clock")
    best = _best([(c[0], c[1], c) for c in cands], want)
    if best is None:
        lo = min((c[0] for c in cands), default=0.0)
        raise UsageError(f"core frequency must be at least {lo:.3f} MHz for the {primitive} from {fin:g} MHz, "
                         f"not {want:g}")
    fout, _, vco, params = best[2]
    return Pll(family, primitive, fin, fout, vco, params)


def pll_instance(pll: Pll, clk_in, clk_out, locked, device: str = ""):
    """The PLL as an Amaranth ``Instance``: ``clk_in`` (the board clock) in, ``clk_out`` and ``locked`` out."""
    from amaranth.hdl import Const, Instance
    p = pll.params
    if pll.family == "ecp5":
        return Instance("EHXPLLL",
                        p_PLLRST_ENA="DISABLED", p_INTFB_WAKE="DISABLED", p_STDBY_ENABLE="DISABLED",
                        p_DPHASE_SOURCE="DISABLED", p_OUTDIVIDER_MUXA="DIVA", p_CLKOP_ENABLE="ENABLED",
                        p_CLKOP_FPHASE=0, p_CLKOP_CPHASE=p["CLKOP_CPHASE"], p_CLKOP_DIV=p["CLKOP_DIV"],
                        p_CLKI_DIV=p["CLKI_DIV"], p_CLKFB_DIV=p["CLKFB_DIV"], p_FEEDBK_PATH="CLKOP",
                        a_FREQUENCY_PIN_CLKI=f"{pll.fin_mhz:g}", a_FREQUENCY_PIN_CLKOP=f"{pll.fout_mhz:.6f}",
                        i_CLKI=clk_in, i_CLKFB=clk_out, i_RST=Const(0), i_STDBY=Const(0), i_PHASESEL0=Const(0),
                        i_PHASESEL1=Const(0), i_PHASEDIR=Const(0), i_PHASESTEP=Const(0),
                        i_PHASELOADREG=Const(0), i_PLLWAKESYNC=Const(0), i_ENCLKOP=Const(0),
                        o_CLKOP=clk_out, o_LOCK=locked)
    if pll.family == "ice40":
        return Instance("SB_PLL40_CORE", p_FEEDBACK_PATH="SIMPLE", p_DIVR=p["DIVR"], p_DIVF=p["DIVF"],
                        p_DIVQ=p["DIVQ"], p_FILTER_RANGE=p["FILTER_RANGE"],
                        i_REFERENCECLK=clk_in, i_RESETB=Const(1), i_BYPASS=Const(0),
                        o_PLLOUTGLOBAL=clk_out, o_LOCK=locked)
    return Instance("rPLL", p_FCLKIN=f"{pll.fin_mhz:g}", p_DEVICE=device, p_DYN_IDIV_SEL="false",
                    p_IDIV_SEL=p["IDIV_SEL"], p_DYN_FBDIV_SEL="false", p_FBDIV_SEL=p["FBDIV_SEL"],
                    p_DYN_ODIV_SEL="false", p_ODIV_SEL=p["ODIV_SEL"], p_PSDA_SEL="0000", p_DYN_DA_EN="false",
                    p_DUTYDA_SEL="1000", p_CLKOUT_FT_DIR=Const(1, 1), p_CLKOUTP_FT_DIR=Const(1, 1),
                    p_CLKOUT_DLY_STEP=0, p_CLKOUTP_DLY_STEP=0, p_CLKFB_SEL="internal", p_CLKOUT_BYPASS="false",
                    p_CLKOUTP_BYPASS="false", p_CLKOUTD_BYPASS="false", p_DYN_SDIV_SEL=2, p_CLKOUTD_SRC="CLKOUT",
                    p_CLKOUTD3_SRC="CLKOUT",
                    i_CLKIN=clk_in, i_CLKFB=Const(0), i_RESET=Const(0), i_RESET_P=Const(0), i_FBDSEL=Const(0, 6),
                    i_IDSEL=Const(0, 6), i_ODSEL=Const(0, 6), i_PSDA=Const(0, 4), i_DUTYDA=Const(0, 4),
                    i_FDLY=Const(0, 4), o_CLKOUT=clk_out, o_LOCK=locked)
