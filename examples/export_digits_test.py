"""Write the digits test split for the example model: ``python examples/export_digits_test.py OUTDIR``.

OUTDIR receives
  x_raw.npy   (355, 64) float64 raw pixel values 0..16, for ``lgn2hw predict MODEL x_raw.npy --raw``
  x_bits.npy  (355, n_inputs) uint8 input bits, encoded with the model's own input encoding
  y.npy       (355,) int64 labels
"""
from __future__ import annotations

import argparse
import sys
from pathlib import Path

HERE = Path(__file__).resolve().parent


def main(argv=None) -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("outdir", help="directory to write x_raw.npy, x_bits.npy and y.npy into")
    p.add_argument("--model", default=str(HERE / "digits_lgn.pt"),
                   help="checkpoint whose input encoding makes x_bits.npy (default: the example model)")
    args = p.parse_args(argv)

    from lgn2hw import data
    from lgn2hw._files import save_npy
    from lgn2hw.errors import Lgn2hwError
    from lgn2hw.frontend import load_model
    try:
        nl = load_model(args.model)
        ds = data.load("digits")
        if nl.encoding is None or nl.encoding.n_features != ds.x_test.shape[1]:
            print(f"export_digits_test: error: {args.model} has no input encoding for 64 digits pixels",
                  file=sys.stderr)
            return 1
        out = Path(args.outdir)
        save_npy(out / "x_raw.npy", ds.x_test)
        save_npy(out / "x_bits.npy", nl.encoding.apply(ds.x_test))
        save_npy(out / "y.npy", ds.y_test)
    except Lgn2hwError as err:
        print(f"export_digits_test: error: {err.line()}", file=sys.stderr)
        return 1
    print(f"wrote {out}/x_raw.npy, x_bits.npy, y.npy: {len(ds.y_test)} digits test images")
    return 0


if __name__ == "__main__":
    sys.exit(main())
