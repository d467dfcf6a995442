"""Cheap features of a chat request's text, for the complexity classifier.

A request is split into its *task* (the instruction: the first paragraph up to a payload introduced by
a colon and a line break or a code fence, plus a short closing paragraph, less any quoted passage) and
its *payload* (the email, list, code, quote or transcript the task is about). Most features look at
the task only, so that a long text with an easy task ("summarize this email") reads as easy, and a
short proof or bug hunt reads as hard.

Every feature is a float in [0, 1]; ``FEATURE_NAMES`` fixes their order for the model
file. A request costs tens of microseconds (``turnout eval route`` reports the figure), and no pattern
reads more than the first ``_SCAN_CHARS`` characters of a message.
"""

from __future__ import annotations

import math
import re
from dataclasses import dataclass
from enum import Enum

__all__ = [
    "FEATURE_NAMES",
    "LEXICONS",
    "Lexicon",
    "RequestText",
    "Scope",
    "complexity_features",
    "request_text",
    "split_task",
]


class Scope(Enum):
    TASK = "task"
    TEXT = "text"


@dataclass(frozen=True)
class Lexicon:
    """A feature that counts matches of ``pattern`` in the task or the whole text, capped at ``cap``."""

    pattern: re.Pattern[str]
    scope: Scope
    cap: int


def _words(*alternatives: str) -> re.Pattern[str]:
    return re.compile(r"\b(?:" + "|".join(alternatives) + r")\b")


# name -> what it counts; the patterns run on lower-cased text.
LEXICONS: dict[str, Lexicon] = {
    # verbs and topics that almost always need a strong model
    "hard_ask": Lexicon(
        _words(
            r"prove|proofs?|derive|derivation|design|architect\w*|debug\w*|diagnos\w+|troubleshoot\w*|optimi[sz]\w*"
            r"|refactor\w*|implement|root cause|bugs?"
            r"|fix(?! (?:the |any |all |my )?(?:typos?|grammar|spelling|punctuation|capitali[sz]ation|formatting))"
            r"|race conditions?|deadlock\w*|thread-safe|faster|speed up|memory (?:use|usage|footprint|consumption)"
            r"|runtime|one pass|simplify|more efficient\w*|efficiently"
            r"|(?:linear|constant|logarithmic|quadratic) (?:time|space)|time complexity"
            r"|o\(|performance|secur\w+|vulnerab\w+|threat model\w*|trade-?offs?|counterexample|edge cases?|irrational"
            r"|induction|failure modes?|what's wrong|what is wrong|why does|why is my|why do(?:es)? (?:my|our|this|the)"
        ),
        Scope.TASK,
        3,
    ),
    # question types that lean towards a strong model
    "complex_ask": Lexicon(
        _words(
            r"optimal\w*|minimi[sz]\w*|maximi[sz]\w*|compare|contrast|analy[sz](?:e|es|ed|ing|is)|evaluate|assess\w*"
            r"|critique|critici[sz]e|justify|why|explain|solve|find all|review|forecast|pros and cons|argu\w+"
            r"|rebut\w*|persuasive|propose|recommend\w*|strateg\w+|threats?|migrat\w+|port|generali[sz]e|verify"
            r"|calculate|compute|determine|show that|walk (?:me )?through|what would happen|should we"
            r"|how would (?:you|we|i)|how should (?:we|i)|what are the (?:likely|possible|main)|cheapest|fewest"
            r"|how fast|how far|issues|problems|implications|consequences|risks?|probability|how many ways"
            r"|in how many|expected (?:number|value)"
        ),
        Scope.TASK,
        4,
    ),
    # question types and verbs a small model handles well
    "simple_ask": Lexicon(
        _words(
            r"what is|what's|what are|who|when|where|which|translate|classify|categori[sz]e|tag|label|extract"
            r"|pull out|summari[sz]e|summary|tl;?dr|list|name|convert|format|sort|alphabeti[sz]e|rewrite|rephrase"
            r"|paraphrase|reword|correct|proofread|spell|count|shorten|fill in|synonyms?|antonyms?|opposite|define"
            r"|definition|meaning|stand for|give me|tell me|suggest|caption|title|slogan|reply|yes or no"
            r"|true or false|turn (?:this|these|it)|make (?:this|it)|pretty-print|reformat|abbreviation|plural"
        ),
        Scope.TASK,
        4,
    ),
    # an explicit request for reasoning
    "reasoning": Lexicon(
        _words(
            r"step[- ]by[- ]step|show (?:your|the|all) (?:work|steps|working)"
            r"|explain (?:the|your|each|every) (?:steps?|reasoning|decisions?|design decisions?|parts?|choices?)"
            r"|prove|derive|trade-?offs?|analy[sz](?:e|es|ed|ing|is)|justify|reasoning|in depth|rigorous\w*"
            r"|first principles|second-order|verify|why"
        ),
        Scope.TASK,
        3,
    ),
    # mathematical notation and vocabulary
    "math": Lexicon(
        re.compile(
            r"\^|sqrt|√|∑|∫|π|≤|≥|≠|!=|\b\d+\s*[+*/\u00d7÷^=<>]\s*\d+|\b\d+ - \d+|\b\d+!|%|km/h|m/s|\bmph\b"
            r"|\b(?:mod|modulo|probability|integers?|primes?|equations?|theorem|divisible|polynomials?|matri(?:x|ces)"
            r"|eigen\w*|derivatives?|integrals?|vertices|graphs?|factorial|irrational|rational|induction|lemma"
            r"|combinations|permutations|expected value|variance|compound(?:ed)?|interest|area|perimeter|diagonal"
            r"|radius|volume|rate|ratio|odds|average|median)\b"
        ),
        Scope.TASK,
        5,
    ),
    # constraints and requirements
    "constraints": Lexicon(
        _words(
            r"must|without|at most|at least|no more than|never|ensure|handles?|including|include"
            r"|while (?:keeping|maintaining|preserving)|so that|cannot|can't|requirements?|constraints?|excluding"
            r"|no downtime|o\(|thread-safe|concurrent\w*|preserv\w+|identical|respects?|retries|backoff"
        ),
        Scope.TASK,
        4,
    ),
    # engineering vocabulary
    "tech_terms": Lexicon(
        _words(
            r"apis?|database\w*|sql|postgres\w*|mysql|redis|kafka|kubernetes|k8s|docker\w*|latency|throughput"
            r"|threads?|async\w*|mutex\w*|locks?|locking|concurren\w+|distributed|cach\w+|memory|cpu|schemas?"
            r"|index\w*|quer(?:y|ies)|regex\w*|compil\w+|runtime|algorithms?|complexity|recursi\w+|heap|hash\w*"
            r"|encrypt\w*|tls|oauth|jwt|microservices?|monolith\w*|deploy\w*|clusters?|replica\w*|consistency"
            r"|transactions?|orm|endpoints?|tcp|dns|load balancer|rate limit\w*|queues?|pipelines?|terraform|aws|s3"
            r"|jvm|garbage|leaks?|segfault|pointers?|borrow\w*|generics?|unit tests?|python|java|javascript"
            r"|typescript|rust|golang|c\+\+|bash|react|django|spring|node|nginx|linux"
        ),
        Scope.TASK,
        5,
    ),
    # "write a function / script / query ..."
    "write_code": Lexicon(
        _words(
            r"write|implement|build|create|code|develop)\b[^.?!\n]{0,60}?\b(?:function|method|class|script|program"
            r"|query|parser|algorithm|api|service|server|crawler|cli|library|module|regex|tests?|component|endpoint"
            r"|bot|interpreter|compiler|scheduler|cache|queue|trigger|migration|dockerfile|workflow"
        ),
        Scope.TASK,
        2,
    ),
    # the task points at code, a log or an error in the payload
    "refers_to_code": Lexicon(
        _words(
            r"(?:this|the|my|our) (?:function|code|snippet|script|query|program|class|method|stack trace|traceback"
            r"|error|log|logs|component|test|config|terraform|regex|dockerfile|yaml|loop|effect|hook|service|pod"
            r"|binary search|implementation)"
        ),
        Scope.TASK,
        2,
    ),
    # a short answer is asked for
    "brief_output": Lexicon(
        _words(
            r"one (?:word|sentence|line|phrase)|one-(?:line|word|sentence)|single (?:word|line|sentence)|yes or no"
            r"|true or false|just the|only the|no other text|(?:in|under) \d{1,2} words|briefly|short|quick"
            r"|one per line|reply with|answer with|in a (?:sentence|word|line)|keep it (?:short|brief)|a few words"
        ),
        Scope.TASK,
        2,
    ),
    # a long answer is asked for
    "long_output": Lexicon(
        _words(
            r"essay|report|article|(?:\d{3,}|\d,\d{3})[- ]words?|in detail|detailed|comprehensive|thorough\w*"
            r"|day-by-day|week-by-week|month-by-month|whitepaper"
        ),
        Scope.TASK,
        2,
    ),
    "plan_request": Lexicon(
        _words(r"plan|schedule|itinerary|roadmap|timeline|budget|curriculum|sequencing"),
        Scope.TASK,
        2,
    ),
    # surface edits: typos, tone, tense, case
    "edit_request": Lexicon(
        _words(
            r"typos?|grammar|spelling|punctuation|formal|informal|polite\w*|friendl\w+|casual|shorter|concise"
            r"|(?:past|present|future) tense|capitali[sz]e|upper-?case|lower-?case|bullet\w*|comma-separated|csv|json"
            r"|yaml|table"
        ),
        Scope.TASK,
        2,
    ),
    "greeting": Lexicon(
        re.compile(r"^(?:hi|hello|hey|thanks|thank you|good (?:morning|afternoon|evening)|cheers|bye|goodbye)\b"),
        Scope.TASK,
        1,
    ),
    # an error, a stack trace or a log in the message
    "error_trace": Lexicon(
        re.compile(
            r"traceback|exception\b|\berror:|\bat [\w.$]+\(|stack trace|segfault|panic:|errno|exit code"
            r"|crashloop|oomkilled|^\s*\[?\d{4}-\d\d-\d\d[t ]\d\d:\d\d",
            re.M,
        ),
        Scope.TEXT,
        3,
    ),
    # the task reports something broken, slow or surprising
    "trouble": Lexicon(
        _words(
            r"fail\w*|hangs?|crash\w*|broken|wrong|loops? forever|leak\w*"
            r"|(?:doesn't|does not|won't|will not) (?:compile|work|terminate|return)"
            r"|never (?:returns?|terminates?|finishes)|flaky|slow\w*|spikes?|timeouts?|keeps?|sometimes"
            r"|intermittent\w*|instead of|but (?:got|get|returns?|prints?)|unexpected\w*|stopped"
            r"|went (?:from|up|down)"
        ),
        Scope.TASK,
        3,
    ),
}

_OPENS_SIMPLE = re.compile(
    r"^(?:what(?:'s| is| are| was| does| did)|who|when|where|which|is|are|does|do|can you|translate|classify|extract"
    r"|summari[sz]e|list|name|convert|format|sort|rewrite|rephrase|correct|fix the (?:typos|grammar|spelling)"
    r"|spell|count|capitali[sz]e|shorten|tag|give me|tell me|suggest|define|turn|make|change|write a (?:short|quick"
    r"|one-line|polite|friendly|brief)|how (?:many|much|old|tall|long|do you say|do you spell|do i say))\b"
)
_OPENS_COMPLEX = re.compile(
    r"^(?:why|how (?:would|should)|prove|derive|design|architect"
    r"|debug|optimi[sz]e|compare|analy[sz]e|evaluate|assess|critique|refactor|implement|justify|explain|solve"
    r"|find|review|plan|create a plan|build|write a (?:python|go|rust|java|c\+\+|sql|bash|typescript|javascript"
    r"|function|script|program|query|recursive|thread-safe)|port|migrate|estimate|investigate)\b"
)
_OPENS_REQUEST = re.compile(
    r"^(?:please|can you|could you|would you|help|here (?:is|are)|here's|i (?:have|need|want|am|'m)|i've|my|our|we"
    r"|this|these|write|create|give|add|check|read|look)\b"
)
_PARAGRAPH = re.compile(r"\n\s*\n")
_PAYLOAD_START = re.compile(r":[ \t]*\n|```")
# a quoted passage of a dozen characters or more: 'text', "text" or “text”; apostrophes inside words are not quotes
_QUOTED = re.compile(r"(?<!\w)'(?=\S)(.{12,}?)(?<=\S)'(?!\w)|\"([^\"\n]{12,})\"|“([^”]{12,})”")
_WORD = re.compile(r"[a-z0-9]+(?:['\u2019][a-z]+)?")
_NUMBER = re.compile(r"\d[\d,.]*")
_SENTENCE_END = re.compile(r"[.?!](?:\s|$)")
_CODE_LINE = re.compile(r"^(?: {2,}|\t)\S|^\s*(?:[{}()\]]|def |class |fn |func |return |import |#include)", re.M)
# case-sensitive: program keywords are lower-case, SQL's upper-case
_CODE_TOKEN = re.compile(
    r"\w\(\)|\.\w+\(|\b(?:def|return|function|const|let|var|import|public|private|static|void|fn|func|struct|impl"
    r"|elif|lambda|async|await|SELECT|FROM|WHERE|JOIN|GROUP BY|resource|println|printf)\b"
)
_CODE_PUNCTUATION = ("{", "}", ";", "=>", "->", "::", "==", "+=")
_ENUMERATION = re.compile(r"^\s*(?:[-*•]|\d+[.)])\s+\S", re.M)
_SCAN_CHARS = 4000  # patterns read at most this much of a message; the counts are log-scaled or capped anyway
_LONG_TASK_WORDS = 15
_SHORT_TASK_WORDS = 12
_CODE_LINES = 2
_CODE_TOKENS = 4
_CLOSING_CHARS = 300
_TOKENS_SMALL = 256
_TOKENS_LARGE = 2048

FEATURE_NAMES: tuple[str, ...] = (
    "log_chars",
    "log_task_words",
    "payload_share",
    "prior_turns",
    "code_lines",
    "code_tokens",
    *LEXICONS,
    "opens_simple",
    "opens_complex",
    "code_hard_ask",
    "code_simple_ask",
    "short_hard_ask",
    "numbers",
    "word_problem",
    "list_items",
    "conjunctions",
    "sentences",
    "question_marks",
    "avg_word_len",
    "tools",
    "max_tokens_small",
    "max_tokens_large",
)


@dataclass(frozen=True)
class RequestText:
    """The last user message split into task and payload, and the conversation around it."""

    text: str
    task: str
    payload: str
    prior_turns: int


def split_task(text: str) -> tuple[str, str]:
    """``(task, payload)``: the instruction and the material it is about (empty when there is none).

    The task is the first paragraph up to a ``:`` and a line break or a code fence, or, when the first paragraph reads
    as material rather than an instruction, the short paragraph that closes the message; a short closing paragraph after
    a payload ("It crashes on empty input.") joins the task. Quoted passages leave the task for the payload.
    """
    paragraphs = [p for p in _PARAGRAPH.split(text.strip()) if p.strip()]
    if not paragraphs:
        return "", ""
    first, rest = paragraphs[0], paragraphs[1:]
    cut = _PAYLOAD_START.search(first)
    closing = rest[-1] if rest and len(rest[-1]) <= _CLOSING_CHARS and not _CODE_LINE.search(rest[-1]) else None
    if cut is not None:
        task_parts, payload_parts = [first[: cut.start()]], [first[cut.end() :], *rest]
    elif closing is not None and not _looks_like_instruction(first):
        task_parts, payload_parts = [], [first, *rest]
    else:
        task_parts, payload_parts = [first], rest
    if (
        closing is not None
        and len(payload_parts) > 1
        and payload_parts[-1] is closing
        and (_looks_like_instruction(closing) or LEXICONS["trouble"].pattern.search(closing.lower()))
    ):
        task_parts.append(payload_parts.pop())
    task = "\n".join(task_parts).strip()
    quoted = [m.group(0) for m in _QUOTED.finditer(task)]
    if quoted:
        task = _QUOTED.sub("'…'", task)
        payload_parts = [*quoted, *payload_parts]
    return task, "\n\n".join(p.strip() for p in payload_parts).strip()


def _looks_like_instruction(paragraph: str) -> bool:
    """A question, a lead-in to a payload, or a paragraph that opens like a request."""
    if "?" in paragraph or paragraph.rstrip().endswith(":"):
        return True
    lower = paragraph.lstrip().lower()
    return bool(_OPENS_SIMPLE.match(lower) or _OPENS_COMPLEX.match(lower) or _OPENS_REQUEST.match(lower))


def request_text(messages: list[tuple[str, str]]) -> RequestText:
    """The last user message (or the last message of any role when none is from the user)."""
    last = next((i for i in range(len(messages) - 1, -1, -1) if messages[i][0] == "user"), len(messages) - 1)
    text = messages[last][1] if messages else ""
    prior = sum(1 for role, _ in messages[:last] if role in ("user", "assistant"))
    task, payload = split_task(text)
    return RequestText(text=text, task=task, payload=payload, prior_turns=prior)


def _log_scaled(count: int, log_of_full: float) -> float:
    """``log(1 + count) / log_of_full``, at most 1: a count of ``e**log_of_full - 1`` or more reads as 1."""
    return min(1.0, math.log1p(count) / log_of_full)


def complexity_features(
    messages: list[tuple[str, str]], tools: bool = False, max_tokens: int | None = None
) -> dict[str, float]:
    """The features of a chat request, keyed by ``FEATURE_NAMES`` in that order; ``messages`` are (role, text)."""
    req = request_text(messages)
    scan = req.text[:_SCAN_CHARS]
    text = scan.lower()
    task = req.task[:_SCAN_CHARS].lower()
    words = _WORD.findall(task)
    n_numbers = len(_NUMBER.findall(task))
    n_code_lines = len(_CODE_LINE.findall(scan))
    n_code_tokens = len(_CODE_TOKEN.findall(scan)) + sum(scan.count(p) for p in _CODE_PUNCTUATION)
    features = {
        "log_chars": _log_scaled(len(req.text), 8.0),
        "log_task_words": _log_scaled(len(words), 5.0),
        "payload_share": len(req.payload) / len(req.text) if req.text else 0.0,
        "prior_turns": _log_scaled(req.prior_turns, 2.0),
        "code_lines": _log_scaled(n_code_lines, 3.0),
        "code_tokens": _log_scaled(n_code_tokens, 4.0),
    }
    for name, lexicon in LEXICONS.items():
        found = lexicon.pattern.findall(task if lexicon.scope is Scope.TASK else text)
        features[name] = min(len(found), lexicon.cap) / lexicon.cap
    code = n_code_lines >= _CODE_LINES or n_code_tokens >= _CODE_TOKENS
    asks_hard = features["hard_ask"] > 0 or features["complex_ask"] > 0
    features.update(
        {
            "opens_simple": 1.0 if _OPENS_SIMPLE.match(task) else 0.0,
            "opens_complex": 1.0 if _OPENS_COMPLEX.match(task) else 0.0,
            "code_hard_ask": 1.0 if code and asks_hard else 0.0,
            "code_simple_ask": 1.0 if code and not asks_hard and features["simple_ask"] > 0 else 0.0,
            "short_hard_ask": 1.0 if features["hard_ask"] > 0 and len(words) <= _SHORT_TASK_WORDS else 0.0,
            "numbers": _log_scaled(n_numbers, 2.5),
            "word_problem": min(n_numbers, 8) / 8.0 if n_numbers >= 3 and len(words) >= _LONG_TASK_WORDS else 0.0,
            "list_items": _log_scaled(len(_ENUMERATION.findall(scan)), 2.5),
            "conjunctions": min(task.count(" and ") + task.count(", then") + task.count(";"), 6) / 6.0,
            "sentences": _log_scaled(len(_SENTENCE_END.findall(task)), 2.0),
            "question_marks": min(task.count("?"), 3) / 3.0,
            "avg_word_len": min(1.0, sum(map(len, words)) / len(words) / 10.0) if words else 0.0,
            "tools": 1.0 if tools else 0.0,
            "max_tokens_small": 1.0 if max_tokens is not None and max_tokens <= _TOKENS_SMALL else 0.0,
            "max_tokens_large": 1.0 if max_tokens is not None and max_tokens >= _TOKENS_LARGE else 0.0,
        }
    )
    return features
