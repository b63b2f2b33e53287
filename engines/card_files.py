"""Change fields of the model card inside shipped model files (ONNX student, its sequence model, the torch
checkpoint) without touching the weights: what calibration steps (expression temperature, neutral reading)
add after a model is built. Each file is rewritten through a temporary file and renamed."""
from __future__ import annotations

import logging
import tempfile
from pathlib import Path
from typing import Any

log = logging.getLogger(__name__)


def update_card_fields(onnx_path: Path | None, checkpoint: Path | None, fields: dict[str, Any]) -> list[Path]:
    """Set ``fields`` in the card of the ONNX student and the sequence model beside it (their cards must
    match) and of the torch checkpoint; returns the files rewritten (then update their checksums)."""
    import onnx

    from engines.quantize import write_with_card
    from realtime_affect.models.backends.onnxruntime import CARD_KEY, sequence_path_for
    from realtime_affect.models.card import ModelCard

    written: list[Path] = []
    onnx_files = [onnx_path, sequence_path_for(onnx_path)] if onnx_path is not None else []
    for path in onnx_files:
        if not path.is_file():
            continue
        meta = {m.key: m.value for m in onnx.load(str(path), load_external_data=False).metadata_props}
        card = ModelCard.from_json(meta[CARD_KEY])
        for key, value in fields.items():
            setattr(card, key, value)
        with tempfile.TemporaryDirectory(dir=path.parent) as tmp:
            out = Path(tmp) / path.name
            write_with_card(path, out, card)
            out.replace(path)
        written.append(path)
    if checkpoint is not None:
        import torch

        payload = torch.load(str(checkpoint), map_location="cpu", weights_only=True)
        payload["card"].update(fields)
        tmp = checkpoint.with_name(checkpoint.name + ".tmp")
        torch.save(payload, str(tmp))
        tmp.replace(checkpoint)
        written.append(checkpoint)
    for path in written:
        log.info("%s: card %s updated", path, ", ".join(fields))
    return written


__all__ = ["update_card_fields"]
