"""Near-miss guards: a cached query answers a new one only when cheap checks find no difference that matters.

Sentence embeddings put "capital of France" next to "capital of Germany" and "USD to EUR" next to
"EUR to USD", so similarity alone serves wrong answers. Each guard here compares the two texts'
:class:`QueryFacts` and returns ``True`` when they agree; :func:`check_pair` runs them in order and names
the first that does not. Anything a guard cannot tell apart is a disagreement: a miss costs one model
call, a wrong answer costs trust.

============== ========================================================================================
guard          the two texts must have
============== ========================================================================================
numbers        the same numbers as multisets ("23 plus 17" = "17 + 23", "17 times 23" is not "17 times 24"):
               digits, number words ("two"), roman numerals ("II"); not "one" (also a pronoun)
entities       the same names: capitalised words past a sentence's start, all-caps and mixed-case words
               (``iPhone``, ``USD``), code identifiers, quoted text, and lowercase names from the gazetteer
               (countries, currencies, languages, units, tools); each must occur in the other text
negation       as many negations ("not", "never", "without", "n't", ...), the same "avoid"/"except" words
antonyms       no word on one side whose opposite is on the other ("raise"/"lower", "to"/"from",
               "enable"/"disable", any un-/dis-/de-/in- prefix pair such as "install"/"uninstall")
task           the same task when both name one ("summarize" vs "translate", "explain" vs "write")
tense          the same time when both fix one ("who is" vs "who was")
question       the same question word when both have one ("when" vs "who", "how much" vs "how long")
order          names and numbers in the same order unless joined by "and", "or", "+", "vs", ...; and not the
               same words with two parts swapped around anything else ("a square a rectangle", "who beat X"
               vs "who did X beat")
template       when most words line up, no word swapped for another ("calories in a banana" vs "in an
               apple"), and no word added to an otherwise equal text ("my router" vs "my router password")
============== ========================================================================================
"""

from __future__ import annotations

import re
import unicodedata
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass
from difflib import SequenceMatcher
from functools import lru_cache
from itertools import pairwise

from streams.cache import lexicon

__all__ = [
    "DEFAULT_GUARDS",
    "PairGuard",
    "QueryFacts",
    "antonyms_agree",
    "check_pair",
    "entities_agree",
    "negation_agrees",
    "numbers_agree",
    "order_agrees",
    "query_facts",
    "question_agrees",
    "task_agrees",
    "template_agrees",
    "tense_agrees",
]

_CONTRACTION_WORDS = re.compile(r"\b(" + "|".join(re.escape(w) for w in lexicon.CONTRACTIONS) + r")\b", re.IGNORECASE)
_NOT = re.compile(r"(?<=\w)n't\b", re.IGNORECASE)
_CLITIC = re.compile(r"(?<=\w)'(?:s|re|ve|ll|d|m)\b", re.IGNORECASE)
_ALIASES = tuple((re.compile(pattern, re.IGNORECASE), f" {repl} ") for pattern, repl in lexicon.PHRASE_ALIASES)
_QUOTED = re.compile(r"""(?:^|(?<=[\s(:]))['"`]([^'"`]{1,200})['"`](?=[\s.,;:!?)]|$)""")
_DIGITS = re.compile(r"(?:^|(?<=[\s(=]))[-\u2212](?=\d)|\d+(?:,\d{3})+(?:\.\d+)?|\d+(?:\.\d+)?")
_ROMAN = re.compile(r"^(?=[IVX]{2,}$)X{0,3}(?:IX|IV|V?I{0,3})$")
_ROMAN_VALUES = {"I": 1, "V": 5, "X": 10}
_WORD = re.compile(r"[^\W_][\w]*(?:[.'][^\W_][\w]*)*")
_TOKEN = re.compile(r"[^\W_][\w]*(?:\.[^\W_][\w]*)*|[+\u00d7*/=<>%$\u20ac\u00a3\u00a5&,]")
_QUOTES = str.maketrans({"\u2018": "'", "\u2019": "'", "\u201c": '"', "\u201d": '"'})
_SENTENCE_START = re.compile(r"""(?:[.?!:;]\s*|\s*["'(]\s*|^\s+)""")
_IDENTIFIER = re.compile(r"^(?:[a-z]\w*_\w+|[a-z]\w*(?:\.[a-z]\w*)+)$")


def _stem(word: str) -> str:
    if len(word) <= 3 or not word.isalpha():
        return word
    for suffix, keep in (("ies", "y"), ("ing", ""), ("ed", ""), ("es", ""), ("s", "")):
        if word.endswith(suffix) and len(word) - len(suffix) >= 3 and not (suffix == "s" and word.endswith("ss")):
            word = word[: -len(suffix)] + keep
            break
    if len(word) > 3 and word.endswith("e"):
        word = word[:-1]
    return word


def _build_synonyms() -> dict[str, str]:
    table: dict[str, str] = {}
    for group in lexicon.SYNONYMS:
        words = sorted(group)
        head = _stem(words[0])
        for word in words:
            table[_stem(word)] = head
    return table


_SYNONYM_OF = _build_synonyms()


@lru_cache(maxsize=8192)
def _normal_word(word: str) -> str:
    """Lowercase, spelled out, stemmed, folded onto its synonym group."""
    word = word.lower()
    word = lexicon.ABBREVIATIONS.get(word, word)
    stem = _stem(word)
    return _SYNONYM_OF.get(stem, stem)


def _normal_set(words: frozenset[str]) -> frozenset[str]:
    return frozenset(_normal_word(w) for w in words)


_STOP = _normal_set(lexicon.STOPWORDS) | lexicon.STOPWORDS
_NEGATORS = _normal_set(lexicon.NEGATORS)
_NEGATIVE = _normal_set(lexicon.NEGATIVE_POLARITY)
_SYMMETRIC = _normal_set(lexicon.SYMMETRIC_CONNECTORS)
_CONNECTORS = _SYMMETRIC | {"a", "an", "the"}
_GAZETTEER = _normal_set(lexicon.GAZETTEER)
_ANTONYMS = tuple((_normal_set(x), _normal_set(y)) for x, y in lexicon.ANTONYMS)
_TASKS = {_normal_word(word): task for word, task in lexicon.TASK_VERBS.items()}
_COMMON_CAPS = lexicon.COMMON_CAPITALISED
_NUMBER_WORDS = {_normal_word(w): v for w, v in lexicon.NUMBER_WORDS.items()}
# Words that move when a question is rephrased without changing it ("what does X stand for" = "X is short for what").
_MOVABLE = frozenset({"do", "doe", "did", "what", "which", "who", "whom", "when", "where", "why", "how"})
_PREFIXES = ("un", "dis", "de", "non", "in", "im", "il", "ir")


@dataclass(frozen=True, slots=True)
class QueryFacts:
    """What the guards compare, worked out once per text."""

    text: str
    tokens: tuple[str, ...]
    numbers: tuple[str, ...]
    entities: frozenset[str]
    negations: int
    polarity: frozenset[str]
    tasks: frozenset[str]
    tenses: frozenset[str]
    asks: frozenset[str]
    token_set: frozenset[str]


def _prepare(text: str) -> str:
    text = unicodedata.normalize("NFKC", text).translate(_QUOTES)
    text = _CONTRACTION_WORDS.sub(lambda m: lexicon.CONTRACTIONS[m.group(1).lower()], text)
    text = _NOT.sub(" not", text)
    text = _CLITIC.sub("", text)
    for pattern, repl in _ALIASES:
        text = pattern.sub(repl, text)
    return text


def _canonical_number(raw: str) -> str:
    value = float(raw.replace(",", "").replace("\u2212", "-"))
    return str(int(value)) if value.is_integer() else repr(value)


def _roman(word: str) -> int:
    total = 0
    for i, ch in enumerate(word):
        value = _ROMAN_VALUES[ch]
        total += -value if i + 1 < len(word) and _ROMAN_VALUES[word[i + 1]] > value else value
    return total


def _numbers(text: str, words: list[str]) -> tuple[str, ...]:
    found: list[str] = []
    sign = ""
    for match in _DIGITS.finditer(text):
        raw = match.group(0)
        if raw in "-\u2212":
            sign = "-"
            continue
        found.append(_canonical_number(sign + raw))
        sign = ""
    for word in words:
        if _ROMAN.match(word):
            found.append(str(_roman(word)))
        else:
            value = _NUMBER_WORDS.get(_normal_word(word))
            if value is not None:
                found.append(str(value))
    return tuple(sorted(found))


def _sentence_starts(text: str) -> set[int]:
    return {0} | {m.end() for m in _SENTENCE_START.finditer(text)}


def _entities(text: str, words: list[tuple[int, str]], tokens: frozenset[str]) -> frozenset[str]:
    found: set[str] = set()
    starts = _sentence_starts(text)
    for start, word in words:
        lower = word.lower()
        if lower in _COMMON_CAPS or _ROMAN.match(word) or (len(word) == 1 and word in "IA"):
            continue
        at_start = start in starts
        mixed = (any(c.isupper() for c in word[1:]) and any(c.islower() for c in word)) or (
            word.isupper() and len(word) > 1
        )
        if mixed or (word[0].isupper() and not at_start):
            found.update(_normal_word(part) for part in re.split(r"[.']", word) if part)
    for quoted in _QUOTED.findall(text):
        found.update(_normal_word(w) for w in _TOKEN.findall(quoted.lower()) if w.isalnum())
    found.update(t for t in tokens if t in _GAZETTEER or _IDENTIFIER.match(t))
    return frozenset(found)


def _asks(tokens: tuple[str, ...]) -> frozenset[str]:
    found = {t for t in tokens if t in lexicon.WH_WORDS}
    found.update(f"how {b}" for a, b in pairwise(tokens) if a == "how" and b in lexicon.HOW_WHAT)
    return frozenset(found)


@lru_cache(maxsize=4096)
def query_facts(text: str) -> QueryFacts:
    """Normalise ``text`` and pull out what the guards compare."""
    prepared = _prepare(text)
    words = [(m.start(), m.group(0)) for m in _WORD.finditer(prepared)]
    tokens = tuple(_normal_word(t) for t in _TOKEN.findall(prepared.lower()))
    token_set = frozenset(tokens)
    return QueryFacts(
        text=text,
        tokens=tokens,
        numbers=_numbers(prepared, [w for _, w in words]),
        entities=_entities(prepared, words, token_set),
        negations=sum(1 for t in tokens if t in _NEGATORS),
        polarity=frozenset(t for t in tokens if t in _NEGATIVE),
        tasks=frozenset(_TASKS[t] for t in tokens if t in _TASKS),
        tenses=frozenset(lexicon.TENSES[t] for t in tokens if t in lexicon.TENSES),
        asks=_asks(tokens),
        token_set=token_set,
    )


def numbers_agree(a: QueryFacts, b: QueryFacts) -> bool:
    return a.numbers == b.numbers


def _present(entity: str, facts: QueryFacts) -> bool:
    return entity in facts.token_set or entity in facts.entities


def entities_agree(a: QueryFacts, b: QueryFacts) -> bool:
    return all(_present(e, b) for e in a.entities) and all(_present(e, a) for e in b.entities)


def negation_agrees(a: QueryFacts, b: QueryFacts) -> bool:
    return a.negations == b.negations and a.polarity == b.polarity


def _one_sided(a: frozenset[str], b: frozenset[str], x: frozenset[str], y: frozenset[str]) -> bool:
    return bool(a & x) and not (a & y) and bool(b & y) and not (b & x)


def antonyms_agree(a: QueryFacts, b: QueryFacts) -> bool:
    sa, sb = a.token_set, b.token_set
    for x, y in _ANTONYMS:
        if _one_sided(sa, sb, x, y) or _one_sided(sb, sa, x, y):
            return False
    only_a, only_b = sa - sb, sb - sa
    for word in only_a:
        for other in only_b:
            longer, shorter = (word, other) if len(word) > len(other) else (other, word)
            if len(shorter) >= 4 and any(longer == p + shorter for p in _PREFIXES):
                return False
    return True


def task_agrees(a: QueryFacts, b: QueryFacts) -> bool:
    return not (a.tasks and b.tasks) or a.tasks == b.tasks


def question_agrees(a: QueryFacts, b: QueryFacts) -> bool:
    """ "who" is not "when": both name what they ask for, and it is the same."""
    return not (a.asks and b.asks) or a.asks == b.asks


def tense_agrees(a: QueryFacts, b: QueryFacts) -> bool:
    return not (a.tenses and b.tenses) or bool(a.tenses & b.tenses)


def _key_positions(facts: QueryFacts, keys: frozenset[str]) -> dict[str, int]:
    counts = Counter(t for t in facts.tokens if t in keys)
    return {t: i for i, t in enumerate(facts.tokens) if counts.get(t) == 1}


def _grouped(tokens: tuple[str, ...], i: int, j: int, keys: frozenset[str]) -> bool:
    lo, hi = min(i, j), max(i, j)
    return all(t in _CONNECTORS or t in keys for t in tokens[lo + 1 : hi])


def _swap_is_symmetric(mid_a: list[str], mid_b: list[str]) -> bool:
    """Whether ``mid_b`` is ``mid_a`` = X C Y turned into Y C X with C made of symmetric connectors only."""
    n = len(mid_a)
    for i in range(1, n):
        for j in range(i, n):
            x, c, y = mid_a[:i], mid_a[i:j], mid_a[j:]
            if y and y + c + x == mid_b:
                return any(t in _SYMMETRIC for t in c) and all(t in _CONNECTORS for t in c)
    return False


def _swapped(a: QueryFacts, b: QueryFacts) -> bool:
    """The same words (question words aside) with two parts swapped around something other than "and", "+", ..."""
    ta = [t for t in a.tokens if t not in _MOVABLE]
    tb = [t for t in b.tokens if t not in _MOVABLE]
    start = 0
    while start < min(len(ta), len(tb)) and ta[start] == tb[start]:
        start += 1
    end = 0
    while end < min(len(ta), len(tb)) - start and ta[-1 - end] == tb[-1 - end]:
        end += 1
    mid_a, mid_b = ta[start : len(ta) - end], tb[start : len(tb) - end]
    return bool(mid_a) and Counter(mid_a) == Counter(mid_b) and not _swap_is_symmetric(mid_a, mid_b)


def order_agrees(a: QueryFacts, b: QueryFacts) -> bool:
    if _swapped(a, b):
        return False
    shared_tokens = a.token_set & b.token_set
    numbers = frozenset(t for t in shared_tokens if t[:1].isdigit())
    names = ((a.entities | b.entities) & shared_tokens) - numbers
    return _same_order(a, b, numbers) and _same_order(a, b, names)


def _same_order(a: QueryFacts, b: QueryFacts, keys: frozenset[str]) -> bool:
    """Whether every two of ``keys`` come in the same order in both texts, or side by side in either."""
    pos_a, pos_b = _key_positions(a, keys), _key_positions(b, keys)
    shared = sorted(set(pos_a) & set(pos_b))
    for i, x in enumerate(shared):
        for y in shared[i + 1 :]:
            if (pos_a[x] < pos_a[y]) == (pos_b[x] < pos_b[y]):
                continue
            if not (_grouped(a.tokens, pos_a[x], pos_a[y], keys) or _grouped(b.tokens, pos_b[x], pos_b[y], keys)):
                return False
    return True


def _content(tokens: list[str]) -> list[str]:
    return [t for t in tokens if t not in _STOP and t not in _CONNECTORS]


def _leftover(mine: list[str], other: QueryFacts) -> set[str]:
    joined = {x + y for x, y in pairwise(other.tokens)}
    return {t for t in _content(mine) if t not in other.token_set and t not in joined}


def template_agrees(a: QueryFacts, b: QueryFacts, swap_overlap: float = 0.5, insert_overlap: float = 0.75) -> bool:
    """Texts whose words mostly line up must not differ by a swapped word, nor (nearly equal) by an added one."""
    matcher = SequenceMatcher(None, a.tokens, b.tokens, autojunk=False)
    equal = sum(block.size for block in matcher.get_matching_blocks())
    overlap = equal / max(len(a.tokens), len(b.tokens), 1)
    if equal < 2 or overlap < swap_overlap:
        return True
    left_a: list[str] = []
    left_b: list[str] = []
    for tag, i1, i2, j1, j2 in matcher.get_opcodes():
        if tag != "equal":
            left_a.extend(a.tokens[i1:i2])
            left_b.extend(b.tokens[j1:j2])
    extra_a, extra_b = _leftover(left_a, b), _leftover(left_b, a)
    if extra_a and extra_b:
        return False
    if not (extra_a or extra_b):
        return True
    contained = equal == min(len(a.tokens), len(b.tokens))
    return overlap < insert_overlap and not contained


PairGuard = Callable[[QueryFacts, QueryFacts], bool]

DEFAULT_GUARDS: tuple[PairGuard, ...] = (
    numbers_agree,
    entities_agree,
    negation_agrees,
    antonyms_agree,
    task_agrees,
    tense_agrees,
    question_agrees,
    order_agrees,
    template_agrees,
)


def check_pair(query: str, cached: str, guards: tuple[PairGuard, ...] = DEFAULT_GUARDS) -> str | None:
    """``None`` when every guard finds the two queries alike, else the name of the first that does not."""
    a, b = query_facts(query), query_facts(cached)
    for guard in guards:
        if not guard(a, b):
            return guard.__name__
    return None
