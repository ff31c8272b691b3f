"""Copy a trained run into the package as a bundled model (the generator and both
discriminators: the pose discriminator judges plausibility at inference) and print its checksum.

    python scripts/bundle_model.py RUN --key default
Then put the printed SHA-256 into ``BUNDLED`` in ``src_core/apn_core/inference/model_store.py``.
"""

from __future__ import annotations

import argparse
import logging
from pathlib import Path

from apn_core import runs
from apn_core.errors import ApnError
from apn_core.inference.model_store import BUNDLED_DIR, BUNDLED_WEIGHTS, sha256

log = logging.getLogger("bundle_model")
KEEP = ("generator.", "confidence.", "pose.")


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("run", type=Path)
    parser.add_argument("--key", default="default")
    parser.add_argument("--tag", default="best")
    args = parser.parse_args()
    logging.basicConfig(level=logging.INFO, format="%(message)s")
    try:
        config = runs.load_config(args.run)
        checkpoint = runs.read_checkpoint(runs.weights_path(args.run, args.tag))
    except ApnError as exc:
        parser.error(str(exc))
    weights = {k: v for k, v in checkpoint.weights.items() if k.startswith(KEEP)}
    trained = runs.trained_discriminators(checkpoint, config.train.epochs_pretrain)
    out = BUNDLED_DIR / args.key
    out.mkdir(parents=True, exist_ok=True)
    runs.save_config(out, config)
    tag = BUNDLED_WEIGHTS.removesuffix(".safetensors")
    meta = {"source": args.run.name, runs.TRAINED_KEY: runs.trained_label(trained)}
    path = runs.save_checkpoint(out, tag, weights, meta=meta)
    path.chmod(0o644)
    digest = sha256(path)
    size = path.stat().st_size / 1e6
    log.info(
        "bundled %s (%s) as %r: %.1f MB, discriminators %s, sha256 %s",
        args.run,
        args.tag,
        args.key,
        size,
        "trained: " + (", ".join(sorted(trained)) or "none"),
        digest,
    )


if __name__ == "__main__":
    main()
