"""``LogisticRegressionClassifier``: Rasa 3.x's intent classifier, parsed with numpy.

Training fits scikit-learn's ``LogisticRegression`` (``class_weight="balanced"``,
as Rasa does) on the sentence features of every featurizer side by side
(sparse and dense, :func:`intently.features.collect_features`), for the
training examples that have an intent and a non-blank text. A retrieval intent
``faq/ask_name`` is learned as its base intent ``faq``.

Parsing needs no scikit-learn: the coefficients, intercepts and classes are
persisted as ``.npz`` + JSON, and probabilities are computed for the whole
batch with one matrix product and exactly the function sklearn's
``predict_proba`` applies: the logistic sigmoid for two intents (``[1 - p, p]``),
softmax for more (or, with the ``liblinear`` solver of older scikit-learn
versions, one-vs-rest sigmoids normalised to sum to 1).

Special cases: training data with a single intent cannot be fitted; that
intent is then predicted with confidence 1.0 (and a warning is logged).
A message with blank text gets intent None, confidence 0.0 and an empty
ranking, as Rasa returns. Unlike Rasa, the training examples are not
annotated with predictions (their ``intent`` is the label later components
train on).
"""

from __future__ import annotations

import json
import logging
import warnings
from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any, ClassVar

import numpy as np
import scipy.sparse
from intently.component import FEATURES, INTENT, Component
from intently.errors import ComponentError
from intently.features import SENTENCE, collect_features, feature_blocks
from intently.message import Message
from intently.params import Either, Int, ListOf, OneOf, Param, Real
from intently.persistence import load_arrays, load_json_state

if TYPE_CHECKING:
    from intently.config import ModelConfig
    from intently.training_data import TrainingData

logger = logging.getLogger(__name__)

SOLVERS = ("lbfgs", "liblinear", "newton-cg", "newton-cholesky", "sag", "saga")
#: Rasa's default ranking length (``LABEL_RANKING_LENGTH``).
LABEL_RANKING_LENGTH = 10
ARRAYS_SUFFIX = ".npz"
LABELS_SUFFIX = ".json"
FORMAT_VERSION = 1

# How probabilities are computed from the decision values.
SIGMOID = "sigmoid"  # two classes: one decision value per message
SOFTMAX = "softmax"  # multinomial
OVR = "ovr"  # one-vs-rest sigmoids, normalised
SINGLE = "single"  # one class: always it, with confidence 1.0
#: ``C: auto``: choose the regularisation strength by cross-validation.
AUTO = "auto"
#: The cross-validation fits of ``C: auto`` stop at this multiple of ``tol``. Not looser: each fit
#: on the path starts from the last one's weights, and the gradient there shrinks with the number
#: of examples, so with 10 x tol the fits of the larger candidates stopped at once on large data
#: (0 iterations) and could not win.
CV_TOL_FACTOR = 1.0


def _one_blas_thread():
    """A context in which BLAS runs on one thread (threadpoolctl, installed with scikit-learn).

    L-BFGS's work per iteration is vector operations of the size of the
    weights, far too small to gain from BLAS threads; on a busy machine the
    threads wait on one another (the fits ran several times slower with them).
    """
    try:
        from threadpoolctl import threadpool_limits
    except ImportError:  # pragma: no cover - scikit-learn depends on it
        import contextlib

        return contextlib.nullcontext()
    return threadpool_limits(limits=1, user_api="blas")


def _active_columns(features: scipy.sparse.spmatrix | np.ndarray) -> np.ndarray:
    """The columns with a non-zero value in some row.

    The others (a featurizer's reserved columns, n-grams of examples without an
    intent) get weight 0 at the L2-regularised optimum whatever the data, so
    the fit leaves them out: the same model, found faster.
    """
    if scipy.sparse.issparse(features):
        matrix = scipy.sparse.csr_matrix(features)
        return np.unique(matrix.indices[matrix.data != 0])
    return np.flatnonzero(np.any(np.asarray(features) != 0, axis=0))


def _positive_number(value: Any) -> bool:
    return not isinstance(value, bool) and isinstance(value, (int, float)) and value > 0 and np.isfinite(value)



try:  # the kernel of scipy's CSR @ dense product (private; the public operator is the fallback)
    from scipy.sparse._sparsetools import csr_matvecs as _csr_matvecs
except ImportError:  # pragma: no cover - another scipy layout
    _csr_matvecs = None


def _sigmoid(values: np.ndarray) -> np.ndarray:
    """The logistic function, numerically stable (scipy.special.expit without its import cost)."""
    return 0.5 * (1.0 + np.tanh(0.5 * values))

class LinearIntentModel:
    """A fitted linear model: ``classes``, ``coef`` (k x d), ``intercept`` (k) and how to get probabilities."""

    __slots__ = ("_blocks", "classes", "coef", "intercept", "mode")

    def __init__(self, classes: Sequence[str], coef: np.ndarray, intercept: np.ndarray, mode: str) -> None:
        self.classes: list[str] = list(classes)
        self.coef = np.ascontiguousarray(coef, dtype=np.float64)
        self.intercept = np.asarray(intercept, dtype=np.float64)
        self.mode = mode
        self._blocks: dict[tuple[int, ...], list[np.ndarray]] = {}

    @property
    def dimension(self) -> int:
        return int(self.coef.shape[1])

    def predict_proba(self, features: scipy.sparse.spmatrix | np.ndarray | Sequence[Any]) -> np.ndarray:
        """Probabilities (n x classes), as sklearn's ``predict_proba`` computes them.

        ``features`` is one matrix, or a list of matrices whose columns side by
        side are the features (one per featurizer: no stacking needed).
        """
        blocks = list(features) if isinstance(features, (list, tuple)) else [features]
        n = blocks[0].shape[0]
        if self.mode == SINGLE:
            return np.ones((n, 1))
        decision = self._decision(blocks)
        if self.mode == SIGMOID:
            positive = _sigmoid(decision[:, 0])
            return np.stack([1.0 - positive, positive], axis=1)
        if self.mode == OVR:
            probabilities = _sigmoid(decision)
            sums = probabilities.sum(axis=1)
            all_zero = sums == 0
            if np.any(all_zero):
                probabilities[all_zero, :] = 1.0
                sums[all_zero] = probabilities.shape[1]
            return probabilities / sums[:, None]
        decision -= decision.max(axis=1, keepdims=True)
        np.exp(decision, out=decision)
        decision /= decision.sum(axis=1, keepdims=True)
        return decision

    def _decision(self, blocks: list[Any]) -> np.ndarray:
        """``X @ coef.T + intercept``, summed block by block."""
        widths = tuple(int(block.shape[1]) for block in blocks)
        weights = self._blocks.get(widths)
        if weights is None:
            bounds = np.cumsum((0, *widths))
            weights = [np.ascontiguousarray(self.coef[:, a:b].T) for a, b in zip(bounds, bounds[1:])]
            self._blocks = {widths: weights}
        decision: np.ndarray | None = None
        for block, weight in zip(blocks, weights):
            if _csr_matvecs is not None and type(block) is scipy.sparse.csr_matrix and block.dtype == np.float64:
                # scipy's own kernel for ``block @ weight``, without its dispatch (most of a parse's product).
                part = np.zeros((block.shape[0], weight.shape[1]), dtype=np.float64)
                _csr_matvecs(block.shape[0], block.shape[1], weight.shape[1], block.indptr, block.indices,
                             block.data, weight.ravel(), part.ravel())
            elif scipy.sparse.issparse(block):
                part = np.asarray(block @ weight)
            else:
                part = np.asarray(block, dtype=np.float64) @ weight
            decision = part if decision is None else decision + part
        assert decision is not None
        decision += self.intercept
        return decision


class LogisticRegressionClassifier(Component):
    """Intent classifier: logistic regression over sentence features.

    Config keys and defaults (Rasa 3.x): ``max_iter`` (100), ``solver``
    ("lbfgs"), ``tol`` (1e-4), ``random_state`` (42) and ``ranking_length``
    (10; 0 keeps every intent in the ranking). intently's own keys:
    ``C`` (1.0, the inverse regularisation strength Rasa fixes; a number > 0,
    or ``auto`` to choose it from ``C_candidates`` by stratified
    cross-validation on the training data: ``cv_folds`` folds, evaluated one
    after another until ``cv_min_held_out`` examples have been held out and
    predicted, so large data sets need one fold) and ``class_weight``
    ("balanced" as in Rasa, or null for none).
    """

    params: ClassVar[dict[str, Param]] = {
        "max_iter": Param(100, Int(1), "iterations of the solver"),
        "solver": Param("lbfgs", OneOf(*SOLVERS), "the optimiser", hint="the default, 'lbfgs', suits most data"),
        "tol": Param(1e-4, Real(0, None, closed="neither"), "the solver stops when it improves less than this"),
        "random_state": Param(42, Either(Int(0), None), "seed of the solver and of the cross-validation folds"),
        "ranking_length": Param(LABEL_RANKING_LENGTH, Int(0), "intents listed in intent_ranking (0: all)"),
        "C": Param(1.0, Either(Real(0, None, closed="neither"), AUTO),
                   "intently: inverse regularisation strength (Rasa fixes 1.0), or 'auto': chosen from "
                   "C_candidates by cross-validation",
                   hint="'auto' chooses it by cross-validation on the training data; Rasa uses 1.0"),
        "C_candidates": Param([1.0, 3.0, 10.0, 30.0, 100.0], ListOf(Real(0, None, closed="neither"), min_len=1),
                              "intently: the values C: auto chooses from", hint="for example [0.3, 1, 3, 10, 30]"),
        "cv_folds": Param(3, Int(2), "intently: stratified folds of C: auto's cross-validation"),
        "cv_min_held_out": Param(
            500, Int(0), "intently: C: auto evaluates folds until this many examples were held out",
            hint="0 evaluates one fold; a number above the examples' count evaluates every fold",
        ),
        "class_weight": Param("balanced", OneOf("balanced", None),
                              "'balanced' weighs each intent by the inverse of its number of examples (Rasa's); "
                              "null: no weights"),
    }
    requires = (FEATURES,)
    provides = (INTENT,)
    reads_features = frozenset({SENTENCE})

    def __init__(self, config: dict[str, Any] | None = None, *, unique_name: str | None = None) -> None:
        super().__init__(config, unique_name=unique_name)
        #: The fitted model; None until trained (or when there was nothing to train on).
        self.model: LinearIntentModel | None = None
        #: The C of the last fit (the one ``C: auto`` chose); kept for finetuning.
        self.fitted_strength: float | None = None
        self._warned_untrained = False

    # --- training ------------------------------------------------------------------------

    def train(self, training_data: TrainingData, config: ModelConfig | None = None, **context: Any) -> None:
        """Fit on the sentence features of the examples that have an intent and text."""
        examples = training_data.training_examples
        keep = [i for i, m in enumerate(examples) if m.intent and m.text and m.text.strip()]
        if not keep:
            logger.warning("%s: no training examples with an intent; it will not predict intents", self.unique_name)
            self.model = None
            return
        features = self._training_features(examples, keep)
        labels = np.asarray([examples[i].intent for i in keep], dtype=object)
        classes = sorted(set(labels.tolist()))
        if len(classes) == 1:
            logger.warning(
                "%s: the training data has a single intent (%r); it will be predicted for "
                "every message with confidence 1.0",
                self.unique_name,
                classes[0],
            )
            self.model = LinearIntentModel(classes, np.zeros((1, features.shape[1])), np.zeros(1), SINGLE)
            return
        self.model = self._fit(features, labels)
        logger.info(
            "%s: trained on %d examples of %d intents (%d features)",
            self.unique_name,
            len(keep),
            len(classes),
            features.shape[1],
        )

    def _training_features(self, examples: Sequence[Message], keep: list[int]) -> scipy.sparse.csr_matrix | np.ndarray:
        try:
            matrix, _ = collect_features(examples, SENTENCE)
            rows = np.asarray(keep, dtype=np.int64)
            selected = matrix[rows] if matrix is not None else None
        except ValueError:
            # Not every example was featurized (e.g. some lack text): use those we train on.
            selected, _ = collect_features([examples[i] for i in keep], SENTENCE)
        if selected is None:
            raise ComponentError(
                f"{self.unique_name}: the training examples have no sentence features",
                hint="put a featurizer (e.g. CountVectorsFeaturizer) before LogisticRegressionClassifier",
            )
        return selected

    def _warm_start(self, classes: list[str], dimension: int, solver: str) -> tuple[np.ndarray, np.ndarray] | None:
        """When finetuning: the loaded coefficients and intercepts laid out for ``classes``, else None.

        Known intents keep their rows; a new intent starts at zero. The fit
        then starts from the loaded model instead of from scratch (it is
        convex, so the result is the same optimum, reached in fewer
        iterations). Only multinomial models warm-start: a two-intent model's
        single row, and liblinear, cannot.
        """
        previous = self.model
        if not (self.finetune_mode and previous is not None and solver != "liblinear"):
            return None
        if previous.dimension != dimension or previous.mode not in (SIGMOID, SOFTMAX):
            return None
        if previous.classes == classes:
            logger.info("%s: finetuning from the loaded weights", self.unique_name)
            return previous.coef.copy(), previous.intercept.copy()
        if previous.mode != SOFTMAX or len(classes) < 3 or not set(previous.classes) <= set(classes):
            return None
        rows = {name: i for i, name in enumerate(previous.classes)}
        coef = np.zeros((len(classes), dimension), dtype=np.float64)
        intercept = np.zeros(len(classes), dtype=np.float64)
        for i, name in enumerate(classes):
            if name in rows:
                coef[i] = previous.coef[rows[name]]
                intercept[i] = previous.intercept[rows[name]]
        added = sorted(set(classes) - set(previous.classes))
        logger.info("%s: finetuning from the loaded weights, with %d new intents (%s)",
                    self.unique_name, len(added), ", ".join(added))
        return coef, intercept

    def _estimator(self, strength: float) -> Any:
        from sklearn.linear_model import LogisticRegression

        return LogisticRegression(
            solver=self.config["solver"],
            max_iter=self.config["max_iter"],
            tol=self.config["tol"],
            random_state=self.config["random_state"],
            class_weight=self.config["class_weight"],
            C=float(strength),
            fit_intercept=True,
            intercept_scaling=1,
            dual=False,
        )

    def _strength(
        self, features: scipy.sparse.spmatrix | np.ndarray, labels: np.ndarray
    ) -> tuple[float, tuple[np.ndarray, np.ndarray] | None]:
        """``C``, and where ``auto`` chose it, a fold's weights at that C to start the final fit from.

        With ``auto``: the candidate with the best cross-validated accuracy.
        The folds are stratified and drawn with ``random_state``; they are
        evaluated one after another until at least ``cv_min_held_out``
        examples have been held out (every fold for small data; one fold,
        a stratified hold-out of 1/``cv_folds``, once the data are large), so
        the cost of the search stays a fraction of a fit while small data,
        where one fold's estimate is noisy, get every fold. In each fold the
        candidates are fitted in ascending order, each starting from the
        previous solution (a regularisation path), with a looser tolerance.
        An intent with fewer examples than folds takes part in the folds it
        fits in. Ties go to the smaller C (the stronger regularisation). With
        too little data for two folds the middle candidate is used.
        """
        strength = self.config["C"]
        if strength != AUTO:
            return float(strength), None
        if self.finetune_mode and self.fitted_strength is not None:
            logger.info("%s: finetuning with the C chosen in training, %g", self.unique_name, self.fitted_strength)
            return self.fitted_strength, None
        from sklearn.exceptions import ConvergenceWarning
        from sklearn.model_selection import StratifiedKFold

        candidates = sorted(float(c) for c in self.config["C_candidates"])
        targets = labels.astype(str)
        classes, counts = np.unique(targets, return_counts=True)
        folds = min(self.config["cv_folds"], int(counts.max()))
        if folds < 2 or len(candidates) == 1:
            return candidates[len(candidates) // 2], None
        splitter = StratifiedKFold(n_splits=folds, shuffle=True, random_state=self.config["random_state"] or 0)
        correct = np.zeros(len(candidates))
        held_out, evaluated = 0, 0
        solutions: list[tuple[np.ndarray, np.ndarray] | None] = [None] * len(candidates)
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", ConvergenceWarning)
            warnings.simplefilter("ignore", UserWarning)  # "the least populated class has fewer members than n_splits"
            for train_rows, test_rows in splitter.split(np.zeros(len(targets)), targets):
                if held_out > 0 and held_out >= self.config["cv_min_held_out"]:
                    break
                if len(set(targets[train_rows])) < 2:
                    continue
                # Ascending C, each fit starting from the last one's weights (a regularisation path).
                estimator = self._estimator(candidates[0])
                estimator.set_params(warm_start=self.config["solver"] != "liblinear", tol=self.config["tol"] * CV_TOL_FACTOR)
                fold_features, fold_targets = features[train_rows], targets[train_rows]
                complete = len(set(fold_targets)) == len(classes)
                for i, candidate in enumerate(candidates):
                    estimator.set_params(C=candidate)
                    estimator.fit(fold_features, fold_targets)
                    correct[i] += float(np.sum(estimator.predict(features[test_rows]) == targets[test_rows]))
                    solutions[i] = (estimator.coef_.copy(), estimator.intercept_.copy()) if complete else None
                held_out += len(test_rows)
                evaluated += 1
        if held_out == 0:
            return candidates[len(candidates) // 2], None
        best = int(np.argmax(correct))
        chosen = candidates[best]
        logger.info(
            "%s: C=%g chosen by cross-validation, %d of %d folds (%d held-out examples; accuracy %s)",
            self.unique_name, chosen, evaluated, folds, held_out,
            ", ".join(f"C={c:g}: {n / held_out:.3f}" for c, n in zip(candidates, correct)),
        )
        return chosen, solutions[best]

    def _fit(self, features: scipy.sparse.spmatrix | np.ndarray, labels: np.ndarray) -> LinearIntentModel:
        from sklearn.exceptions import ConvergenceWarning

        classes = sorted(set(labels.tolist()))
        solver = self.config["solver"]
        width = features.shape[1]
        active = _active_columns(features)
        features = features[:, active]
        with _one_blas_thread():
            self.fitted_strength, fold_solution = self._strength(features, labels)
        classifier = self._estimator(self.fitted_strength)
        start = self._warm_start(classes, width, solver)
        if start is not None:
            classifier.set_params(warm_start=True)
            classifier.coef_, classifier.intercept_ = start[0][:, active], start[1]
        elif fold_solution is not None and solver != "liblinear":
            # The held-out fit at the chosen C is close to the final optimum: start there (same convex
            # problem, same optimum within tol, fewer iterations).
            classifier.set_params(warm_start=True)
            classifier.coef_, classifier.intercept_ = fold_solution
        with warnings.catch_warnings(record=True) as caught, _one_blas_thread():
            warnings.simplefilter("always", ConvergenceWarning)
            try:
                classifier.fit(features, labels.astype(str))
            except ValueError as error:
                raise ComponentError(
                    f"{self.unique_name}: scikit-learn could not fit the model: {error}",
                    hint="check the solver (liblinear handles two intents only in recent scikit-learn)",
                ) from error
        if any(issubclass(w.category, ConvergenceWarning) for w in caught):
            logger.warning(
                "%s: the solver stopped at max_iter=%d before it converged; the model is "
                "usable, and a higher max_iter (e.g. 500) gives a fully converged fit",
                self.unique_name,
                self.config["max_iter"],
            )
        coef = np.zeros((classifier.coef_.shape[0], width), dtype=np.float64)
        coef[:, active] = classifier.coef_
        if len(classes) == 2:
            mode = SIGMOID
        elif solver == "liblinear":
            mode = OVR
        else:
            mode = SOFTMAX
        return LinearIntentModel(
            [str(c) for c in classifier.classes_], coef, np.asarray(classifier.intercept_), mode
        )

    # --- parsing ---------------------------------------------------------------------------

    def process(self, messages: Sequence[Message], **context: Any) -> None:
        """Set ``intent``, ``intent_confidence`` and ``intent_ranking`` on every message."""
        if not messages:
            return
        model = self.model
        if model is None:
            if not self._warned_untrained:
                logger.warning("%s is not trained; it does not predict intents", self.unique_name)
                self._warned_untrained = True
            return
        probabilities = self.predict_proba(messages)
        limit = self.config["ranking_length"]
        order = np.argsort(-probabilities, axis=1, kind="stable")
        if limit > 0:
            order = order[:, :limit]
        classes = model.classes
        for row, message in enumerate(messages):
            if not message.text or not message.text.strip():
                message.intent = None
                message.intent_confidence = 0.0
                message.intent_ranking = []
                continue
            ranked = order[row].tolist()
            scores = probabilities[row, ranked].tolist()
            message.intent = classes[ranked[0]]
            message.intent_confidence = scores[0]
            message.intent_ranking = [
                {"name": classes[c], "confidence": score} for c, score in zip(ranked, scores)
            ]

    def predict_proba(self, messages: Sequence[Message]) -> np.ndarray:
        """Probabilities of every intent (columns in ``self.model.classes`` order) for a batch."""
        model = self.model
        if model is None:
            raise ComponentError(f"{self.unique_name} is not trained")
        if model.mode == SINGLE:
            return np.ones((len(messages), 1))
        try:
            blocks = [matrix for _, matrix, _ in feature_blocks(messages, SENTENCE)]
        except ValueError as error:
            raise ComponentError(f"{self.unique_name}: {error}") from error
        if not blocks:
            raise ComponentError(
                f"{self.unique_name}: the messages have no sentence features",
                hint="put a featurizer (e.g. CountVectorsFeaturizer) before LogisticRegressionClassifier",
            )
        width = sum(int(block.shape[1]) for block in blocks)
        if width != model.dimension:
            raise ComponentError(
                f"{self.unique_name}: the features have {width} columns but the "
                f"model was trained on {model.dimension}",
                hint="the featurizers before it changed since training; train the model again",
            )
        # One product per featurizer's block: no copy of the batch's matrices.
        return model.predict_proba(blocks)

    # --- persistence --------------------------------------------------------------------------

    def persist(self, file_name: str, model_dir: Path) -> dict[str, Any] | None:
        """Write ``coef``/``intercept`` as ``.npz`` and the classes and mode as JSON."""
        model = self.model
        if model is None:
            return {"trained": False}
        model_dir = Path(model_dir)
        arrays_file = f"{file_name}{ARRAYS_SUFFIX}"
        labels_file = f"{file_name}{LABELS_SUFFIX}"
        np.savez(model_dir / arrays_file, coef=model.coef, intercept=model.intercept)
        (model_dir / labels_file).write_text(
            json.dumps({"format": FORMAT_VERSION, "classes": model.classes, "mode": model.mode,
                        "C": self.fitted_strength}, ensure_ascii=False),
            encoding="utf-8",
        )
        return {
            "trained": True,
            "arrays_file": arrays_file,
            "labels_file": labels_file,
            "intents": list(model.classes),
            "dimension": model.dimension,
        }

    @classmethod
    def load(
        cls,
        meta: dict[str, Any],
        model_dir: Path,
        *,
        finetune: bool = False,
        **context: Any,
    ) -> LogisticRegressionClassifier:
        """Restore the model from ``.npz`` + JSON (no pickle, no scikit-learn)."""
        instance = super().load(meta, model_dir, finetune=finetune, **context)
        assert isinstance(instance, cls)
        state = meta.get("meta") or {}
        if not state.get("trained"):
            return instance
        model_dir = Path(model_dir)
        try:
            arrays_file, labels_file = state["arrays_file"], state["labels_file"]
            for name in (arrays_file, labels_file):
                if Path(name).name != name:
                    raise ValueError(f"file name {name!r} is not a plain name")
            labels = load_json_state(model_dir, labels_file, FORMAT_VERSION)
            arrays = load_arrays(model_dir, arrays_file)
            coef, intercept = arrays["coef"], arrays["intercept"]
            mode = labels["mode"]
            if mode not in (SIGMOID, SOFTMAX, OVR, SINGLE):
                raise ValueError(f"unknown probability mode {mode!r}")
            _check_stored_model(labels["classes"], coef, intercept, mode, state.get("dimension"))
            strength = labels.get("C")
            if strength is not None and not _positive_number(strength):
                raise ValueError(f"the stored C is not a number > 0: {strength!r}")
            instance.fitted_strength = None if strength is None else float(strength)
            instance.model = LinearIntentModel(labels["classes"], coef, intercept, mode)
        except (OSError, KeyError, ValueError, TypeError) as error:
            raise ComponentError(
                f"{instance.unique_name}: cannot read its model files: {error}",
                hint="train the model again",
            ) from error
        return instance


def _check_stored_model(classes: Any, coef: np.ndarray, intercept: np.ndarray, mode: str, dimension: Any) -> None:
    """Refuse a stored model whose parts do not fit together (a damaged or hostile archive).

    Raises:
        ValueError: naming what does not fit; :meth:`LogisticRegressionClassifier.load`
            turns it into a ComponentError.
    """
    if not isinstance(classes, list) or not classes or not all(isinstance(c, str) for c in classes):
        raise ValueError("the intents are not a non-empty list of names")
    if len(set(classes)) != len(classes):
        raise ValueError("an intent is listed twice")
    rows = {SINGLE: None, SIGMOID: 1}.get(mode, len(classes))
    if mode == SINGLE and len(classes) != 1:
        raise ValueError(f"mode {mode!r} needs exactly one intent, got {len(classes)}")
    if mode == SIGMOID and len(classes) != 2:
        raise ValueError(f"mode {mode!r} needs exactly two intents, got {len(classes)}")
    if coef.ndim != 2 or coef.dtype.kind != "f" or (rows is not None and coef.shape[0] != rows):
        raise ValueError(f"coef is {coef.dtype}{list(coef.shape)}, expected a float matrix of {rows} rows")
    if intercept.dtype.kind != "f" or intercept.shape != (coef.shape[0],):
        raise ValueError(f"intercept is {intercept.dtype}{list(intercept.shape)}, expected {coef.shape[0]} floats")
    if not (np.isfinite(coef).all() and np.isfinite(intercept).all()):
        raise ValueError("the weights are not all finite numbers")
    if dimension is not None and dimension != coef.shape[1]:
        raise ValueError(f"coef has {coef.shape[1]} columns, the metadata says {dimension}")
