"""Writes ``tests/data/diet-v1/``: a DIETClassifier model folder as archives store it, and what it computes.

``model/`` is what ``DIETClassifier.persist`` writes into an archive (``diet.npz``
with the weights, ``diet.json`` with the spec, labels and tags) plus the
component's metadata entry (``entry.json``); ``expected.npz`` is the input of a
padded batch and the similarities, tag scores and decoded tags the model gave
for it. ``tests/test_diet_weights.py`` loads the model with the current code
and checks it computes the same, so a change of the weights' names or layout
that old archives cannot follow fails there. The files were written at commit
76ca80f (before DIET's numpy modules were split by job); run this script
again only when the stored format changes on purpose (with a new
FORMAT_VERSION):

    python tests/data/make_old_diet.py
"""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import scipy.sparse
from intently.plugins.classifiers.diet.component import DIETClassifier

HERE = Path(__file__).parent / "diet-v1"
TAGS = ["O", "B-city", "I-city", "L-city", "U-city"]
SPEC = {
    "sparse_dim": 6, "dense_dim": 3, "dense_dimension": 8, "hidden": [8], "units": 8, "layers": 1,
    "heads": 2, "embedding": 4, "label_dimension": 4, "density": 0.5, "n_labels": 3, "n_tags": len(TAGS),
    "n_role_tags": 0, "n_group_tags": 0, "linear": False, "mlm": False, "sentence_to_tags": True,
    "sequence_sparse_dim": 4, "connections": "grouped", "connection_seed": 5,
}


def main() -> None:
    try:
        from intently.plugins.classifiers.diet.weights import initial_weights
    except ImportError:  # before the split
        from intently.plugins.classifiers.diet.numpy_model import initial_weights
    rng = np.random.default_rng(0)
    weights, masks = initial_weights(SPEC, 5)
    for name, value in weights.items():  # every weight away from its initial value (biases, gains too)
        scale = 2.0 if name.startswith(("tags", "crf")) else 0.3  # tag scores that vary from token to token
        noise = rng.normal(scale=scale, size=value.shape).astype(np.float32)
        weights[name] = value + (noise * masks[name] if name in masks else noise)
    diet = DIETClassifier({"BILOU_flag": True}, unique_name="diet")
    diet.spec, diet.weights, diet.seed = SPEC, weights, 5
    diet.labels, diet.tags = ["greet", "inform", "bye"], TAGS
    diet.dims = {"sequence_sparse": 4, "sentence_sparse": 2, "sequence_dense": 2, "sentence_dense": 1}
    folder = HERE / "model"
    folder.mkdir(parents=True, exist_ok=True)
    meta = diet.persist("diet", folder)
    entry = {"name": "DIETClassifier", "unique_name": "diet", "config": diet.config, "meta": meta}
    (folder / "entry.json").write_text(json.dumps(entry, indent=1, sort_keys=True) + "\n")

    loaded = DIETClassifier.load(entry, folder)
    lengths = np.array([3, 1, 5, 2])
    batch, length = len(lengths), int(lengths.max()) + 1
    mask = (np.arange(length)[None, :] <= lengths[:, None]).astype(np.float32)
    sparse = scipy.sparse.random(batch * length, SPEC["sparse_dim"], density=0.4, random_state=1,
                                 format="csr", dtype=np.float32)
    sparse = scipy.sparse.csr_matrix(sparse.multiply(mask.reshape(-1, 1)))
    dense = (rng.normal(size=(batch * length, SPEC["dense_dim"])) * mask.reshape(-1, 1)).astype(np.float32)
    sims, scores = loaded.model.forward(sparse, dense, mask, lengths)
    tags, confidences = loaded._tag_decoders()["entity"](scores["entity"], lengths)
    np.savez(HERE / "expected.npz", sparse_data=sparse.data, sparse_indices=sparse.indices,
             sparse_indptr=sparse.indptr, dense=dense, mask=mask, lengths=lengths, sims=sims,
             entity_scores=scores["entity"], tags=np.concatenate(tags), confidences=np.concatenate(confidences))


if __name__ == "__main__":
    main()
