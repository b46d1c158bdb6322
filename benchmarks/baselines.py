"""Reference systems the benchmarks put beside intently, built from scikit-learn.

- :class:`TfidfLogisticRegression`: TF-IDF of word 1-2-grams and char_wb
  1-4-grams with logistic regression, the intent reference of the data README.
- :class:`ReferenceCRF`: sklearn-crfsuite with simple lexical window features
  (±1 token: lower, title, upper, digit, suffix3, prefix2; L-BFGS, c1 = c2 =
  0.1, 50 iterations), the entity reference of the data README. It tokenizes
  with intently's WhitespaceTokenizer so spans are comparable.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence

from intently.message import Message


def mostly_chinese(texts: Sequence[str]) -> bool:
    """True when at least 30 % of the non-space characters of ``texts`` are CJK ideographs."""
    chars = [c for text in texts for c in text if not c.isspace()]
    return bool(chars) and sum("\u4e00" <= c <= "\u9fff" for c in chars) >= 0.3 * len(chars)


def jieba_words(text: str) -> list[str]:
    """jieba's words of ``text`` (a module-level function, so a fitted model can be saved with joblib)."""
    import jieba

    jieba.setLogLevel(60)
    return jieba.lcut(text)


class TfidfLogisticRegression:
    """Intent classification: TF-IDF and logistic regression (C = 10), as the data README describes.

    Word 1-2-grams and char_wb 1-4-grams; for Chinese (``chinese=True``) jieba
    words 1-2 and characters 1-3, the CAIS reference of the data README.
    """

    name = "TF-IDF + LogReg (reference)"

    def __init__(self, random_state: int = 42, *, chinese: bool = False) -> None:
        from sklearn.feature_extraction.text import TfidfVectorizer
        from sklearn.linear_model import LogisticRegression
        from sklearn.pipeline import make_pipeline, make_union

        if chinese:
            words = TfidfVectorizer(tokenizer=jieba_words, token_pattern=None, lowercase=True, ngram_range=(1, 2),
                                    sublinear_tf=True)
            characters = TfidfVectorizer(analyzer="char", ngram_range=(1, 3), sublinear_tf=True)
        else:
            words = TfidfVectorizer(analyzer="word", ngram_range=(1, 2), sublinear_tf=True)
            characters = TfidfVectorizer(analyzer="char_wb", ngram_range=(1, 4), sublinear_tf=True)
        self.model = make_pipeline(
            make_union(words, characters),
            LogisticRegression(max_iter=1000, C=10.0, random_state=random_state),
        )

    def fit(self, texts: Sequence[str], labels: Sequence[str]) -> TfidfLogisticRegression:
        self.model.fit(list(texts), list(labels))
        return self

    def predict(self, texts: Sequence[str]) -> list[str]:
        return [str(label) for label in self.model.predict(list(texts))]


def _window_features(items: list[str], i: int, describe: Callable[[str], dict[str, object]]) -> dict[str, object]:
    """``describe`` of the items at ``i - 1``, ``i`` and ``i + 1`` (keys prefixed by the offset), BOS/EOS at the edges."""
    features: dict[str, object] = {"bias": 1.0}
    for offset in (-1, 0, 1):
        j = i + offset
        if 0 <= j < len(items):
            features.update({f"{offset}:{name}": value for name, value in describe(items[j]).items()})
        elif offset == -1:
            features["BOS"] = True
        else:
            features["EOS"] = True
    return features


def _describe_word(word: str) -> dict[str, object]:
    return {"lower": word.lower(), "title": word.istitle(), "upper": word.isupper(), "digit": word.isdigit(),
            "suffix3": word[-3:], "prefix2": word[:2]}


def _describe_character(char: str) -> dict[str, object]:
    return {"char": char, "digit": char.isdigit(), "ascii": char.isascii() and char.isalpha()}


def _token_features(words: list[str], i: int) -> dict[str, object]:
    """The data README's CRF reference: ±1 token: lower, title, upper, digit, suffix3, prefix2."""
    return _window_features(words, i, _describe_word)


def _character_features(chars: list[str], i: int) -> dict[str, object]:
    """The data README's CAIS reference: ±1 character: the character, digit, ASCII letter."""
    return _window_features(chars, i, _describe_character)


class ReferenceCRF:
    """Entity extraction with a plain CRF over BIO tags of whitespace tokens.

    ``characters=True`` (Chinese): one token per non-space character, the
    features of :func:`_character_features` and 100 iterations (the data
    README's character CRF reference for CAIS).
    """

    name = "CRF (reference)"

    def __init__(self, *, characters: bool = False) -> None:
        from intently.plugins.tokenizers.whitespace import WhitespaceTokenizer

        self.tokenizer = WhitespaceTokenizer()
        self.characters = characters
        if characters:
            self.name = "character CRF (reference)"
        self.crf = None

    def _tokens(self, text: str):
        if self.characters:
            from intently.message import Token

            return [Token(c, i, i + 1) for i, c in enumerate(text) if not c.isspace()]
        return self.tokenizer.tokens_for(text)

    def _features(self, words: list[str], i: int) -> dict[str, object]:
        return _character_features(words, i) if self.characters else _token_features(words, i)

    def fit(self, examples: Sequence[Message]) -> ReferenceCRF:
        import sklearn_crfsuite

        sequences, tags = [], []
        for message in examples:
            tokens = self._tokens(message.text)
            words = [t.text for t in tokens]
            labels = ["O"] * len(tokens)
            for entity in message.entities:
                inside = [k for k, t in enumerate(tokens) if t.start >= entity.start and t.end <= entity.end]
                for n, k in enumerate(inside):
                    labels[k] = ("B-" if n == 0 else "I-") + entity.entity
            sequences.append([self._features(words, i) for i in range(len(words))])
            tags.append(labels)
        iterations = 100 if self.characters else 50
        self.crf = sklearn_crfsuite.CRF(algorithm="lbfgs", c1=0.1, c2=0.1, max_iterations=iterations)
        self.crf.fit(sequences, tags)
        return self

    def predict(self, texts: Sequence[str]) -> list[list[tuple[int, int, str]]]:
        """Entity spans ``(start, end, entity)`` per text."""
        assert self.crf is not None, "fit first"
        all_tokens = [self._tokens(text) for text in texts]
        sequences = [[self._features([t.text for t in tokens], i) for i in range(len(tokens))] for tokens in all_tokens]
        results = []
        for tokens, tags in zip(all_tokens, self.crf.predict(sequences)):
            spans: list[tuple[int, int, str]] = []
            for token, tag in zip(tokens, tags):
                if tag == "O":
                    continue
                kind, entity = tag.split("-", 1)
                if kind == "I" and spans and spans[-1][2] == entity:
                    spans[-1] = (spans[-1][0], token.end, entity)
                else:
                    spans.append((token.start, token.end, entity))
            results.append(spans)
        return results
