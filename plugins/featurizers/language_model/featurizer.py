"""``LanguageModelFeaturizer``: dense features from a pre-trained BERT-family encoder, in numpy.

Rasa's component of the same name runs a Hugging Face model through
TensorFlow and downloads it at first use. This one runs the encoder's
forward pass in numpy (:mod:`.bert`), reads the weights only from a local
``model.safetensors`` (:mod:`.model_files`, :mod:`.safetensors`) and never
touches the network, so training, parsing and loading need neither
TensorFlow nor PyTorch, and an archive cannot make it run code.

Each message is split into its tokens' WordPieces (:mod:`.wordpiece`),
framed by ``[CLS]`` and ``[SEP]``, and encoded. The **sequence** features of
a token are the mean of its pieces' last-layer states (Rasa's rule); the
**sentence** features are the ``[CLS]`` state (Rasa's rule for BERT) or the
mean over all positions, whichever the checkpoint was trained with when it
says (sentence-transformers' ``1_Pooling``), L2-normalised when the
checkpoint's ``modules.json`` has a ``Normalize`` module. A message longer
than the model's positions is cut, and its tokens past the cut get zero
features, with a warning.

The archive records the checkpoint's directory and the SHA-256 of its
weights and vocabulary, not the weights themselves; loading finds the
checkpoint again (``model_weights`` first, then the recorded directory) and
refuses files whose fingerprint differs, since the features, and everything
trained on them, would silently change.

With ``trainable_layers`` above 0 the featurizer learns: its ``train`` hook
finetunes the encoder's top layers together with an intent head and an
entity-tag head on the training data, in TensorFlow (:mod:`.task`), then
featurizes the training examples with the finetuned encoder. The layers that
trained are stored in the archive (``encoder.safetensors``, and the heads in
``task_heads.safetensors``, so that ``intently train --finetune`` continues
from them); the rest still comes from the checkpoint. Parsing runs the
finetuned encoder in numpy, without TensorFlow.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any, ClassVar

import numpy as np
import scipy.sparse
from intently.component import DENSE_FEATURES, TOKENS, Component
from intently.errors import ComponentConfigError, ComponentError, MissingDependencyError
from intently.params import Bool, Either, Int, OneOf, Param, Real, Str
from intently.persistence import reading_state
from intently.features import SENTENCE, SEQUENCE, attach_features
from intently.plugins.featurizers.language_model.bert import BertConfig, BertEncoder
from intently.plugins.featurizers.language_model.model_files import (
    ModelFiles,
    file_sha256,
    read_model_files,
    resolve_model_directory,
)
from intently.plugins.featurizers.language_model.mlm import encoder_tensor_names
from intently.plugins.featurizers.language_model.safetensors import (
    SafetensorsError,
    read_safetensors,
    write_safetensors,
)
from intently.plugins.featurizers.language_model.wordpiece import (
    WordPieceTokenizer,
    read_vocabulary,
)
from intently.plugins.featurizers.language_model.task import (
    TaskHeads,
    TaskSettings,
    finetune_on_task,
    task_examples,
    token_tags,
    trained_tensor_names,
)
from intently.progress import ProgressBar

if TYPE_CHECKING:
    from intently.config import ModelConfig
    from intently.message import Message
    from intently.training_data import TrainingData

logger = logging.getLogger(__name__)

#: Rasa's default checkpoint per ``model_name`` (only BERT-architecture models run here).
DEFAULT_WEIGHTS = {"bert": "rasa/LaBSE"}
#: Rasa's other ``model_name`` values, named in the error.
OTHER_RASA_MODELS = ("gpt", "gpt2", "xlnet", "distilbert", "roberta", "camembert")
POOLINGS = ("auto", "cls", "mean")
#: ``runtime``: auto (onnxruntime when installed, else numpy), numpy, onnxruntime.
RUNTIMES = ("auto", "numpy", "onnxruntime")
#: Messages encoded together, of similar lengths (sorted longest first).
BATCH_MESSAGES = 32
#: Show a progress bar when featurizing at least this many messages in training.
PROGRESS_MIN_MESSAGES = 500
#: The finetuned encoder's trained tensors and the task heads, in the component's archive folder.
ENCODER_FILE = "encoder.safetensors"
HEADS_FILE = "task_heads.safetensors"


class LanguageModelFeaturizer(Component):
    """Dense sequence and sentence features from a pre-trained BERT-family encoder (numpy, no download).

    Config (Rasa's keys first):
        model_name: ``bert`` (also MiniLM, LaBSE and every other ``BertModel`` checkpoint).
        model_weights: a checkpoint directory, or a Hugging Face model id already in the local
            cache; default Rasa's ``rasa/LaBSE``.
        cache_dir: the Hugging Face cache to look in (default: Hugging Face's own).
        pooling: ``auto`` (what the checkpoint says, else ``cls``), ``cls`` or ``mean``.
        runtime: what runs the encoder at parse and training time: ``numpy`` (default),
            ``onnxruntime`` (the ``fast`` extra: the same computation as an in-memory ONNX graph,
            faster per message but slower to load and larger in memory, see
            docs/language-models.md; features equal numpy's to float32 rounding) or ``auto``
            (onnxruntime when installed, else numpy).
        trainable_layers: task finetuning: ``0`` (default) keeps the encoder frozen; ``N`` trains
            its top N layers, ``all`` every layer and the embeddings, together with an intent
            head and an entity-tag head on the training data (TensorFlow, at training only;
            the trained layers go into the archive, see docs/language-models.md).
        epochs, learning_rate, batch_size: of that finetuning (AdamW, a linear warm-up over the
            first 10 % of the steps, then a linear decay to 0).
        random_seed: of that finetuning (None: a random one); one seed gives one encoder.
        BILOU_flag: tag the entities BILOU (true) or with bare labels (false) for the tag head.
    """

    params: ClassVar[dict[str, Param]] = {
        "model_name": Param(
            "bert", OneOf("bert"), "the architecture: bert (also MiniLM, LaBSE and every other BertModel checkpoint)",
            hint="intently runs BERT-architecture models only: use model_name: bert with a BERT-architecture "
            "checkpoint (BERT, MiniLM, LaBSE, ...); Rasa runs " + ", ".join(OTHER_RASA_MODELS) + " through TensorFlow",
        ),
        "model_weights": Param(None, Either(Str(), None),
                               "a checkpoint folder, or a Hugging Face model id already in the local cache "
                               "(null: Rasa's rasa/LaBSE)"),
        "cache_dir": Param(None, Either(Str(), None), "the Hugging Face cache to look in (null: Hugging Face's own)"),
        "pooling": Param("auto", OneOf(*POOLINGS), "sentence vector: 'auto' (what the checkpoint says, else cls), "
                                                   "'cls' or 'mean'"),
        "runtime": Param("numpy", OneOf(*RUNTIMES),
                         "what runs the encoder: numpy, onnxruntime (the fast extra) or auto (onnxruntime when "
                         "installed)"),
        "trainable_layers": Param(0, Either(Int(0), OneOf("all")),
                                  "task finetuning: 0 keeps the encoder frozen, N trains its top N layers, "
                                  "'all' every layer and the embeddings"),
        "epochs": Param(3, Int(1), "passes over the training data when finetuning the encoder"),
        "learning_rate": Param(5e-5, Real(0, None, closed="neither"),
                               "AdamW's peak learning rate when finetuning the encoder"),
        "batch_size": Param(32, Int(1), "examples per step when finetuning the encoder"),
        "random_seed": Param(None, Either(Int(0), None), "seed of the finetuning (null: a random one)"),
        "BILOU_flag": Param(True, Bool(), "tag entities BILOU (true) or with bare labels (false) for the tag head"),
    }
    requires = (TOKENS,)
    provides = (DENSE_FEATURES,)
    reads_features = frozenset()  # reads tokens or text, no features

    def __init__(self, config: dict[str, Any] | None = None, *, unique_name: str | None = None) -> None:
        super().__init__(config, unique_name=unique_name)
        self._encoder: BertEncoder | None = None
        #: What encodes: the numpy encoder, or onnxruntime running the same graph.
        self._runner: Any = None
        self._tokenizer: WordPieceTokenizer | None = None
        self._files: ModelFiles | None = None
        self._fingerprint: dict[str, str] = {}
        self._special_ids: tuple[int, int] = (0, 0)
        #: The names of the encoder tensors that were finetuned (None: the checkpoint's encoder, frozen);
        #: their values live in the encoder (``BertEncoder.tensors``), not twice in memory.
        self._trained: list[str] | None = None
        #: The task heads (small; kept so that a restored or loaded component persists and finetunes them).
        self._heads: TaskHeads | None = None

    # --- the model --------------------------------------------------------------------------------

    @property
    def model_weights(self) -> str:
        return self.config["model_weights"] or DEFAULT_WEIGHTS[self.config["model_name"]]

    @property
    def pooling(self) -> str:
        """The sentence pooling in use: ``cls`` or ``mean``."""
        if self.config["pooling"] != "auto":
            return str(self.config["pooling"])
        return (self._files.pooling if self._files is not None else None) or "cls"

    @property
    def trainable_layers(self) -> int | None:
        """The top layers that train (None: all, with the embeddings; 0: none)."""
        layers = self.config["trainable_layers"]
        return None if layers == "all" else int(layers)

    def _load_model(self, directory: Path, trained: dict[str, np.ndarray] | None = None) -> None:
        files = read_model_files(directory, component=self.unique_name)
        try:
            config = BertConfig.from_dict(files.config)
            tensors = read_safetensors(files.weights)
            if trained is not None:
                tensors = _with_trained(config, tensors, trained)
            encoder = BertEncoder(config, tensors)
            vocabulary = read_vocabulary(files.vocabulary)
            tokenizer = WordPieceTokenizer(
                vocabulary, lowercase=files.lowercase, strip_accents=files.strip_accents,
                chinese_chars=files.chinese_chars,
            )
            special = (vocabulary["[CLS]"], vocabulary["[SEP]"])
        except KeyError as missing:
            raise ComponentError(f"{self.unique_name}: {files.vocabulary} has no {missing} piece") from None
        except (ValueError, SafetensorsError, OSError) as error:
            raise ComponentError(
                f"{self.unique_name}: cannot use the checkpoint in {directory}: {error}",
                hint="model_weights must name a BERT-architecture checkpoint (model_type bert) "
                "whose model.safetensors matches its config.json",
            ) from None
        if max(vocabulary.values(), default=-1) >= encoder.vocabulary_size:
            raise ComponentError(
                f"{self.unique_name}: {files.vocabulary} has {len(vocabulary)} pieces but the model embeds "
                f"{encoder.vocabulary_size}"
            )
        self._files, self._encoder, self._tokenizer, self._special_ids = files, encoder, tokenizer, special
        self._runner = self._make_runner(encoder)
        self._fingerprint = {
            "weights_sha256": file_sha256(files.weights),
            "vocabulary_sha256": file_sha256(files.vocabulary),
        }
        logger.info(
            "%s: %s (%d layers, hidden size %d, %s pooling, %s)",
            self.unique_name, directory, config.num_hidden_layers, config.hidden_size, self.pooling, self.runtime,
        )

    def _make_runner(self, encoder: BertEncoder) -> Any:
        runtime = self.config["runtime"]
        if runtime == "numpy":
            return encoder
        from intently.plugins.featurizers.language_model.onnx_encoder import (
            OnnxBertEncoder,
            onnxruntime_available,
        )

        if not onnxruntime_available():
            if runtime == "auto":
                return encoder
            raise MissingDependencyError(
                f"{self.unique_name}: runtime onnxruntime needs onnxruntime and onnx",
                hint="pip install 'intently[fast]', or set runtime: numpy",
            )
        try:
            return OnnxBertEncoder(encoder)
        except ValueError as error:  # an activation the graph does not have
            if runtime == "auto":
                logger.info("%s: %s; numpy runs the encoder", self.unique_name, error)
                return encoder
            raise ComponentConfigError(f"{self.unique_name}: {error}", hint="set runtime: numpy") from None

    @property
    def runtime(self) -> str:
        """The runtime in use: ``numpy`` or ``onnxruntime``."""
        return "numpy" if self._runner is None or self._runner is self._encoder else "onnxruntime"

    def _ensure_model(self) -> None:
        if self._encoder is None:
            directory = resolve_model_directory(
                self.model_weights, self.config["cache_dir"], component=self.unique_name
            )
            self._load_model(directory)

    # --- lifecycle ----------------------------------------------------------------------------------

    def train(self, training_data: TrainingData, config: ModelConfig | None = None, **context: Any) -> None:
        """Load the checkpoint, finetune it on the task when ``trainable_layers`` says so, featurize the examples."""
        self._ensure_model()
        if self.trainable_layers != 0:
            self._finetune_on_task(training_data)
        self._featurize(training_data.training_examples, progress=True)

    def _finetune_on_task(self, training_data: TrainingData) -> None:
        """Train the encoder's top layers with the intent and tag heads; swap the encoder in."""
        assert self._encoder is not None and self._tokenizer is not None and self._files is not None
        messages = training_data.training_examples
        bilou = bool(self.config["BILOU_flag"])
        intents, tags = training_data.intents, token_tags(messages, bilou)
        if not intents and not tags:
            logger.warning(
                "%s: trainable_layers is set but the training data has neither intents nor entities: "
                "the encoder stays as it is", self.unique_name,
            )
            return
        seed = self.config["random_seed"]
        if seed is None:
            seed = int(np.random.SeedSequence().entropy % 2**31)
        rng = np.random.default_rng([seed, 1])
        hidden = self._encoder.config.hidden_size
        if self._heads is None:
            self._heads = TaskHeads.new(hidden, intents, tags, rng)
        else:
            added = self._heads.grow(intents, tags, rng)
            if added:
                logger.info("%s: the task heads grow for %s", self.unique_name, ", ".join(added))
        limit = self._encoder.config.max_position_embeddings - 2
        examples = task_examples(messages, self._tokenizer, self._special_ids, limit, self._heads, bilou)
        if not examples:
            logger.warning("%s: no training example has word pieces: the encoder stays as it is", self.unique_name)
            return
        epochs = self.epochs_to_train(int(self.config["epochs"]))
        settings = TaskSettings(
            trainable_layers=self.trainable_layers, epochs=epochs,
            learning_rate=float(self.config["learning_rate"]), batch_size=int(self.config["batch_size"]),
            seed=seed, bilou=bilou, pooling=self.pooling,
        )
        tensors = self._encoder.tensors()
        try:
            result = finetune_on_task(
                self.unique_name, self._encoder.config, self._files.config, tensors, self._heads, examples,
                settings, pad_id=self._pad_id(),
            )
        except ImportError as error:
            raise MissingDependencyError(
                f"{self.unique_name}: trainable_layers needs TensorFlow to train the encoder ({error})",
                hint="pip install 'intently[tensorflow]' (parsing the trained model does not need it), "
                "or set trainable_layers: 0",
            ) from error
        self.epochs_run = result.epochs
        logger.info(
            "%s: finetuned %d encoder tensors on %d examples, %d epochs, %d steps in %.1f s (loss %.3f → %.3f)",
            self.unique_name, len(result.encoder), len(examples), result.epochs, result.steps, result.seconds,
            result.losses[0], result.losses[-1],
        )
        self._trained, self._heads = sorted(result.encoder), result.heads
        tensors.update(result.encoder)
        self._encoder = BertEncoder(self._encoder.config, tensors)
        self._runner = self._make_runner(self._encoder)

    def _pad_id(self) -> int:
        assert self._tokenizer is not None
        return int(self._tokenizer.vocabulary.get("[PAD]", 0))

    def process(self, messages: Sequence[Message], **context: Any) -> None:
        """Attach the dense sequence and sentence features of ``messages``.

        BLAS runs on one thread here, as DIET's parse does: a parse's products are small, and
        on a busy machine BLAS's spinning threads made a one-message parse ten times slower
        (``benchmarks/lm_speed.py``); a server parses concurrent batches on threads of its own.
        """
        from intently.plugins.classifiers.diet.blas_threads import one_blas_thread

        self._ensure_model()
        with one_blas_thread():
            self._featurize(messages)

    def _featurize(self, messages: Sequence[Message], *, progress: bool = False) -> None:
        assert self._encoder is not None and self._tokenizer is not None
        hidden = self._encoder.config.hidden_size
        limit = self._encoder.config.max_position_embeddings - 2
        token_pieces = [[self._tokenizer.ids(token.text) for token in message.tokens] for message in messages]
        token_counts = np.fromiter((len(pieces) for pieces in token_pieces), dtype=np.int64, count=len(messages))
        offsets = np.zeros(len(messages) + 1, dtype=np.int64)
        np.cumsum(token_counts, out=offsets[1:])
        piece_totals = np.fromiter(
            (sum(map(len, pieces)) for pieces in token_pieces), dtype=np.int64, count=len(messages)
        )
        piece_counts = np.minimum(piece_totals, limit)
        sequence = np.zeros((int(offsets[-1]), hidden), dtype=np.float32)
        sentence = np.zeros((len(messages), hidden), dtype=np.float32)
        order = np.argsort(-piece_counts, kind="stable")
        show = progress and len(messages) >= PROGRESS_MIN_MESSAGES
        with ProgressBar(len(messages), f"{self.unique_name} (encoding)", enabled=None if show else False) as bar:
            for start in range(0, len(messages), BATCH_MESSAGES):
                chunk = order[start : start + BATCH_MESSAGES].tolist()
                self._encode_chunk(chunk, token_pieces, offsets, int(piece_counts[chunk[0]]), sequence, sentence)
                bar.update(len(chunk))
        cut = [messages[index].text for index in np.flatnonzero(piece_totals > limit)]
        if cut:
            logger.warning(
                "%s: %d message(s) have more than %d word pieces; the tokens past them get zero features "
                "(first: %.60r)", self.unique_name, len(cut), limit, cut[0],
            )
        attach_features(messages, self.unique_name, SEQUENCE, sequence, offsets)
        attach_features(messages, self.unique_name, SENTENCE, sentence)

    def _encode_chunk(
        self,
        chunk: list[int],
        token_pieces: list[list[list[int]]],
        offsets: np.ndarray,
        longest: int,
        sequence: np.ndarray,
        sentence: np.ndarray,
    ) -> None:
        """Encode the messages ``chunk`` and write their token and sentence rows."""
        assert self._encoder is not None
        length = longest + 2
        cls_id, sep_id = self._special_ids
        ids = np.zeros((len(chunk), length), dtype=np.int64)
        mask = np.zeros((len(chunk), length), dtype=bool)
        # (token row, flat position) pairs: each token's pieces, averaged below.
        rows: list[int] = []
        positions: list[int] = []
        for slot, index in enumerate(chunk):
            pieces: list[int] = [cls_id]
            base = slot * length
            for token_row, token in enumerate(token_pieces[index], start=int(offsets[index])):
                if not token:  # e.g. only control characters: no pieces, zero features
                    continue
                room = min(len(token), longest + 1 - len(pieces))
                if room <= 0:
                    break
                rows.extend([token_row] * room)
                positions.extend(range(base + len(pieces), base + len(pieces) + room))
                pieces.extend(token[:room])
            pieces.append(sep_id)
            ids[slot, : len(pieces)] = pieces
            mask[slot, : len(pieces)] = True
        states = self._runner.encode(ids, mask)
        if rows:
            token_rows = np.asarray(rows, dtype=np.int64)
            unique_rows, local, counts = np.unique(token_rows, return_inverse=True, return_counts=True)
            average = scipy.sparse.csr_matrix(
                ((1.0 / counts[local]).astype(np.float32), (local, np.asarray(positions, dtype=np.int64))),
                shape=(len(unique_rows), len(chunk) * length),
            )
            sequence[unique_rows] = average @ states.reshape(-1, states.shape[-1])
        if self.pooling == "cls":
            pooled = states[:, 0]
        else:
            pooled = (states * mask[..., None]).sum(axis=1) / mask.sum(axis=1, keepdims=True)
        if self._files is not None and self._files.normalize:
            norms = np.linalg.norm(pooled, axis=1, keepdims=True)
            pooled = pooled / np.maximum(norms, np.float32(1e-12))
        sentence[chunk] = pooled

    # --- persistence ----------------------------------------------------------------------------------

    def persist(self, file_name: str, model_dir: Path) -> dict[str, Any] | None:
        """Record where the checkpoint is and its fingerprint; store the finetuned layers and heads, if any.

        The checkpoint's weights stay where they are; with ``trainable_layers`` the tensors that
        trained go into ``encoder.safetensors`` and the task heads into ``task_heads.safetensors``.
        """
        if self._files is None or self._encoder is None:
            return None
        meta: dict[str, Any] = {
            "model_directory": str(self._files.directory),
            "dimension": self._encoder.config.hidden_size,
            "pooling": self.pooling,
            "tokenizer": self._files.tokenizer_settings,
            **self._fingerprint,
        }
        if self._trained is not None and self._heads is not None:
            tensors = self._encoder.tensors()
            trained = {name: tensors[name] for name in self._trained}
            write_safetensors(model_dir / ENCODER_FILE, trained, metadata={"format": "pt"})
            write_safetensors(model_dir / HEADS_FILE, self._heads.tensors, metadata={"format": "pt"})
            meta["finetuned"] = {
                "encoder_file": ENCODER_FILE,
                "heads_file": HEADS_FILE,
                "trained_tensors": sorted(self._trained),
                "intents": list(self._heads.intents),
                "tags": list(self._heads.tags),
            }
        return meta

    @classmethod
    def load(
        cls, meta: dict[str, Any], model_dir: Path, *, finetune: bool = False, **context: Any
    ) -> LanguageModelFeaturizer:
        """Find the checkpoint again, check that it is the one the model was trained with, apply the finetuned layers.

        The heads and the names of the finetuned tensors are kept, so that the component persists
        them again (a training-cache restore) and ``train`` continues from them (``finetune=True``).
        """
        instance = super().load(meta, model_dir, finetune=finetune, **context)
        assert isinstance(instance, cls)
        state = meta.get("meta") or {}
        if not state:
            return instance
        try:
            directory = resolve_model_directory(
                instance.model_weights, instance.config["cache_dir"], component=instance.unique_name
            )
        except ComponentError:
            recorded = state.get("model_directory")
            if not (isinstance(recorded, str) and Path(recorded).is_dir()):
                raise
            directory = Path(recorded)
        finetuned = state.get("finetuned")
        trained = heads = None
        if finetuned is not None:
            trained, heads = instance._read_finetuned(finetuned, model_dir)
        instance._load_model(directory, trained)
        if trained is not None and heads is not None:
            instance._check_finetuned(trained, heads)
            instance._trained, instance._heads = sorted(trained), heads
        recorded_tokenizer = state.get("tokenizer")
        assert instance._files is not None
        if recorded_tokenizer is not None and recorded_tokenizer != instance._files.tokenizer_settings:
            raise ComponentError(
                f"{instance.unique_name}: the tokenizer settings of the checkpoint in {directory} "
                f"({instance._files.tokenizer_settings}) are not the ones this model was trained with "
                f"({recorded_tokenizer}): the features would change",
                hint="restore the checkpoint's tokenizer_config.json, or train the model again",
            )
        for key in ("weights_sha256", "vocabulary_sha256"):
            if state.get(key) != instance._fingerprint[key]:
                raise ComponentError(
                    f"{instance.unique_name}: the checkpoint in {directory} is not the one this model was "
                    f"trained with ({key} {instance._fingerprint[key][:12]}…, trained with "
                    f"{str(state.get(key))[:12]}…)",
                    hint="point model_weights at the original checkpoint, or train the model again",
                )
        return instance

    def _read_finetuned(
        self, finetuned: Any, model_dir: Path
    ) -> tuple[dict[str, np.ndarray], TaskHeads]:
        """The trained encoder tensors and the heads stored in the archive (checked against the metadata)."""
        with reading_state(self, ENCODER_FILE):
            if not isinstance(finetuned, dict):
                raise ValueError("the finetuned encoder's metadata is not an object")
            names = {}
            for key in ("encoder_file", "heads_file"):
                name = finetuned.get(key)
                if not isinstance(name, str) or not name or Path(name).name != name:
                    raise ValueError(f"{key} {name!r} is not a plain file name")
                names[key] = name
            trained = read_safetensors(model_dir / names["encoder_file"])
            if sorted(trained) != finetuned.get("trained_tensors"):
                raise ValueError("the stored encoder tensors are not the ones the metadata names")
            intents, tags = finetuned.get("intents"), finetuned.get("tags")
            if not (isinstance(intents, list) and isinstance(tags, list)
                    and all(isinstance(label, str) for label in intents + tags)):
                raise ValueError("the heads' labels are not lists of strings")
            heads = TaskHeads(list(intents), list(tags), read_safetensors(model_dir / names["heads_file"]))
        return trained, heads

    def _check_finetuned(self, trained: dict[str, np.ndarray], heads: TaskHeads) -> None:
        """Raises ComponentError when the stored encoder and heads do not fit the config and checkpoint."""
        assert self._encoder is not None
        with reading_state(self, ENCODER_FILE):
            expected = trained_tensor_names(self._encoder.config, self.trainable_layers)
            if sorted(trained) != sorted(expected):
                raise ValueError(
                    f"it holds {len(trained)} tensors, not the {len(expected)} that trainable_layers "
                    f"{self.config['trainable_layers']!r} trains"
                )
            heads.check(self._encoder.config.hidden_size)


def _with_trained(
    config: BertConfig, tensors: dict[str, np.ndarray], trained: dict[str, np.ndarray]
) -> dict[str, np.ndarray]:
    """The checkpoint's tensors with the finetuned ones in place (same names and shapes, or ValueError)."""
    merged = {name.removeprefix("bert."): value for name, value in tensors.items()}
    known = set(encoder_tensor_names(config))
    for name, value in trained.items():
        if name not in known or name not in merged:
            raise ValueError(f"the finetuned encoder has a tensor {name!r} the checkpoint does not")
        if tuple(value.shape) != tuple(merged[name].shape):
            raise ValueError(
                f"the finetuned tensor {name!r} has shape {tuple(value.shape)}, the checkpoint's "
                f"{tuple(merged[name].shape)}"
            )
        merged[name] = value
    return merged
