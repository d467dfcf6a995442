"""Word lists for the near-miss guards in :mod:`streams.cache.guards`.

Small, hand-made and English only. A word missing here costs a hit (the guards treat what they do not
know as different), never a wrong answer, so the lists err towards short and obvious.
"""

from __future__ import annotations

__all__ = [
    "ABBREVIATIONS",
    "ANTONYMS",
    "COMMON_CAPITALISED",
    "CONTRACTIONS",
    "GAZETTEER",
    "NEGATIVE_POLARITY",
    "NEGATORS",
    "NUMBER_WORDS",
    "PHRASE_ALIASES",
    "STOPWORDS",
    "SYMMETRIC_CONNECTORS",
    "SYNONYMS",
    "TASK_VERBS",
    "TENSES",
    "UNITS",
    "WH_WORDS",
]


def _words(text: str) -> frozenset[str]:
    return frozenset(text.split())


CONTRACTIONS: dict[str, str] = {
    "can't": "can not",
    "cannot": "can not",
    "won't": "will not",
    "shan't": "shall not",
    "ain't": "is not",
    "whats": "what is",
    "hows": "how is",
    "wheres": "where is",
    "whos": "who is",
    "thats": "that is",
}

NEGATORS = frozenset({"not", "no", "never", "without", "none", "nothing", "nobody", "neither", "nor", "nowhere"})

# Words whose presence flips what is asked, beyond plain negation.
NEGATIVE_POLARITY = frozenset({"avoid", "except", "excluding", "unless", "lack", "lacking", "prevent", "instead"})

# Pairs (or small groups) of opposites: a text with one and not the other never matches one with the other.
ANTONYMS: tuple[tuple[frozenset[str], frozenset[str]], ...] = tuple(
    (frozenset(a.split()), frozenset(b.split()))
    for a, b in (
        ("raise increase higher high rise boost more", "lower decrease reduce low fall drop less fewer"),
        ("enable activate turn_on", "disable deactivate turn_off"),
        ("allow allowed permit permitted accept", "block blocked prohibit prohibited ban banned forbid forbidden deny"),
        ("private", "public"),
        ("start begin", "stop end finish"),
        ("add include", "remove exclude delete"),
        (
            "pro pros advantage advantages benefit benefits",
            "con cons disadvantage disadvantages drawback drawbacks risk",
        ),
        ("before", "after"),
        ("to into onto toward towards", "from"),
        ("difference different differ distinguish", "common similar similarity alike same"),
        ("min minimum", "max maximum"),
        ("buy purchase", "sell"),
        ("import", "export"),
        ("upload", "download"),
        ("encrypt", "decrypt"),
        ("encode serialize", "decode deserialize parse"),
        ("compress zip", "decompress unzip extract"),
        ("open", "close"),
        ("lock", "unlock"),
        ("show display", "hide"),
        ("install", "uninstall"),
        ("subscribe", "unsubscribe"),
        ("win", "lose"),
        ("best", "worst"),
        ("hot warm", "cold cool"),
        ("positive", "negative"),
        ("true", "false"),
        ("safe", "unsafe dangerous harmful"),
        ("legal", "illegal"),
        ("first earliest oldest", "last latest newest"),
        ("largest biggest tallest longest heaviest", "smallest shortest lightest"),
        ("fastest quickest", "slowest"),
        ("above over", "below under"),
        ("inside", "outside"),
        ("push", "pull"),
        ("connect", "disconnect"),
        ("mute", "unmute"),
        ("follow", "unfollow"),
        ("like", "dislike"),
        ("approve", "reject decline"),
        ("gain", "loss"),
        ("cheap cheapest", "expensive"),
        ("good", "bad"),
        ("easy", "hard difficult"),
        ("always", "never"),
        ("input", "output"),
        ("send", "receive"),
        ("credit", "debit"),
        ("deposit", "withdraw withdrawal"),
        ("join", "leave"),
        ("online", "offline"),
        ("upper uppercase", "lower lowercase"),
        ("ascending", "descending"),
        ("north", "south"),
        ("east", "west"),
        ("left", "right"),
        ("male", "female"),
    )
)

# What a question asks for. "how" with one of HOW_WHAT is one question word ("how many", "how long").
WH_WORDS = frozenset({"who", "whom", "whose", "when", "where", "why"})
HOW_WHAT = frozenset({"many", "much", "long", "old", "often", "big", "tall", "fast", "far", "late", "early"})

# Auxiliaries that fix a question's time: "who is" and "who was" ask different things.
TENSES: dict[str, str] = {
    "is": "present",
    "are": "present",
    "am": "present",
    "does": "present",
    "was": "past",
    "were": "past",
    "did": "past",
    "will": "future",
}

# Words that join two things without ordering them: "17 + 23" is "23 + 17", "Berlin and Paris" is "Paris and Berlin".
SYMMETRIC_CONNECTORS = frozenset({"and", "or", "+", "\u00d7", "*", "vs", "versus", "&", "between", ","})

# Task words: what the user wants done with the subject. Two texts that ask for different tasks never match.
TASK_VERBS: dict[str, str] = {
    word: task
    for task, words in {
        "summarize": "summarize summarise summary summarizing tldr",
        "translate": "translate translation translating",
        "explain": "explain explanation",
        "write": "write compose draft",
        "fix": "fix correct proofread",
        "rewrite": "rewrite rephrase paraphrase reword",
        "list": "enumerate",
        "implement": "implement implementation",
        "compare": "compare comparison",
        "prove": "prove proof",
        "review": "review critique",
        "debug": "debug",
        "refactor": "refactor",
        "calculate": "calculate compute",
        "classify": "classify categorize categorise",
        "shorten": "shorten condense",
        "expand": "expand elaborate lengthen",
        "generate": "generate",
    }.items()
    for word in words.split()
}

STOPWORDS = _words(
    """
    a an the of in on at to for with by from about as into onto and or but so if then than that this these those
    it its it's is are was were be been being am do does did done doing have has had having will would shall should
    can could may might must i me my mine we us our you your yours he him his she her they them their there here
    what which who whom whose when where why how whats please hi hey hello thanks thank kindly just really very
    any some also like ok okay yes well quick question tell know want need let lets give show help getting get
    way ways s
    """
)

# Capitalised words that start sentences and name nothing.
COMMON_CAPITALISED = _words(
    """
    a an the what which who whom whose when where why how is are was were be do does did have has had can could
    would should will shall may might must i im i'm ive i've id i'd ill i'll my me we our you your it its this that
    these those there here hi hey hello please thanks thank ok okay yes no not so and or but if then also just
    give tell show list write explain translate convert calculate summarize summarise fix set find make get let
    recommend describe define compare name help create generate draft compose rewrite check use add remove delete
    is are in on at for of to from by with about as after before during since until while
    any some all each every one two three
    """
)

NUMBER_WORDS: dict[str, int] = {
    "zero": 0,
    "two": 2,
    "three": 3,
    "four": 4,
    "five": 5,
    "six": 6,
    "seven": 7,
    "eight": 8,
    "nine": 9,
    "ten": 10,
    "eleven": 11,
    "twelve": 12,
    "thirteen": 13,
    "fourteen": 14,
    "fifteen": 15,
    "sixteen": 16,
    "seventeen": 17,
    "eighteen": 18,
    "nineteen": 19,
    "twenty": 20,
    "thirty": 30,
    "forty": 40,
    "fifty": 50,
    "sixty": 60,
    "seventy": 70,
    "eighty": 80,
    "ninety": 90,
    "hundred": 100,
    "thousand": 1000,
    "million": 1_000_000,
    "billion": 1_000_000_000,
    "dozen": 12,
    "twice": 2,
    "double": 2,
    "triple": 3,
}

# Short forms people type, mapped to the word they stand for.
ABBREVIATIONS: dict[str, str] = {
    "pw": "password",
    "pwd": "password",
    "passwd": "password",
    "yr": "year",
    "yrs": "year",
    "hr": "hour",
    "hrs": "hour",
    "mins": "minute",
    "sec": "second",
    "secs": "second",
    "oz": "ounce",
    "lb": "pound",
    "lbs": "pound",
    "kg": "kilogram",
    "kgs": "kilogram",
    "km": "kilometer",
    "kms": "kilometer",
    "mi": "mile",
    "ft": "foot",
    "feet": "foot",
    "cm": "centimeter",
    "mm": "millimeter",
    "metre": "meter",
    "kilometre": "kilometer",
    "centimetre": "centimeter",
    "millimetre": "millimeter",
    "litre": "liter",
    "tbsp": "tablespoon",
    "tsp": "teaspoon",
    "dict": "dictionary",
    "int": "integer",
    "str": "string",
    "func": "function",
    "fn": "function",
    "repo": "repository",
    "dir": "directory",
    "db": "database",
    "config": "configuration",
    "info": "information",
    "app": "application",
    "vocab": "vocabulary",
    "msg": "message",
    "pic": "picture",
    "pics": "picture",
    "approx": "approximately",
    "js": "javascript",
    "ts": "typescript",
    "py": "python",
    "postgres": "postgresql",
    "k8s": "kubernetes",
    "usa": "us",
    "america": "us",
    "uk": "britain",
    "wwii": "ww2",
    "sqrt": "square_root",
    "2fa": "two_factor",
    "u": "you",
    "ur": "your",
    "r": "are",
    "pls": "please",
    "plz": "please",
    "thx": "thanks",
    "ty": "thanks",
    "diff": "difference",
}

# Multi-word names folded into one token before anything else, so both spellings compare equal.
PHRASE_ALIASES: tuple[tuple[str, str], ...] = (
    (r"\bworld war (?:ii|2|two)\b", "ww2"),
    (r"\bsecond world war\b", "ww2"),
    (r"\bworld war (?:i|1|one)\b", "ww1"),
    (r"\bfirst world war\b", "ww1"),
    (r"\btwo[- ]factor(?: authentication)?\b", "two_factor"),
    (r"\b2fa\b", "two_factor"),
    (r"\bsquare root(?: of)?\b", "square_root"),
    (r"\btime[- ]zone\b", "timezone"),
    (r"\bunited states(?: of america)?\b", "us"),
    (r"\bunited kingdom\b|\bgreat britain\b", "britain"),
    (r"\bnode(?:\.?js)?\b", "nodejs"),
    (r"°\s?c\b|\bdegrees? c(?:elsius)?\b|\bcentigrade\b", "celsius"),
    (r"°\s?f\b|\bdegrees? f(?:ahrenheit)?\b", "fahrenheit"),
    (r"\bturn on\b|\bswitch on\b", "enable"),
    (r"\bturn off\b|\bswitch off\b", "disable"),
    (r"\bhow far\b", "distance"),
    (r"\b(?:in )?(?:what|which) year\b", "when"),
    (r"\b(?:the )?number of\b", "how many"),
    (r"\bcome down\b", "fall"),
    (r"\bis short for\b|\bstands? for\b", "abbreviation"),
    (r"\bsigns? (?:of|that)\b", "symptom"),
    (r"\bscreen ?shot\b|\bscreen capture\b|\bcapture (?:my |the )?screen\b", "screenshot"),
    (r"\bon earth\b|\bin the world\b", "world"),
    (r"\bcustomer (?:service|support)\b|\bsupport team\b", "support"),
    (r"\+|\bplus\b", "+"),
    ("\u00d7|" r"\btimes\b|(?<=\d)\s*[x*]\s*(?=\d)", "\u00d7"),
)

# Words that name the same thing or action here. Each group folds onto its first word.
SYNONYMS: tuple[frozenset[str], ...] = tuple(
    frozenset(group.split())
    for group in (
        "delete remove erase",
        "change switch update modify edit",
        "find see view locate",
        "past previous earlier old",
        "write wrote written author",
        "make create",
        "large big huge",
        "small little tiny",
        "fast quick quickly",
        "difference differ",
        "safe safely",
        "local locally",
        "number count",
        "purchase purchased bought buy",
        "cancel cancellation",
        "refund refunded",
        "symptom",
        "meaning mean means",
        "eligible qualify",
        "available hours",
        "tall height",
        "closest",
        "learn study",
        "tip advice",
        "largest biggest",
        "tallest highest",
        "closest nearest",
        "command",
        "memorize memorise",
        "paint painted painter",
        "discount offer",
        "begin start",
        "ship shipping",
        "international internationally",
        "explain explanation",
        "main primary primarily chief mainly",
    )
)

UNITS = _words(
    """
    mile kilometer meter centimeter millimeter foot inch yard pound kilogram gram ounce ton tonne liter milliliter
    gallon quart pint cup tablespoon teaspoon celsius fahrenheit kelvin acre hectare byte kilobyte megabyte gigabyte
    terabyte watt kilowatt volt amp calorie joule mph kph knot
    """
)

# Lowercase names that matter as much as capitalised ones: a query that names one of these never matches
# one that does not name it.
GAZETTEER = (
    _words(
        """
    python javascript typescript java kotlin rust golang ruby php perl scala haskell elixir erlang clojure lua
    dart julia matlab fortran cobol sql bash zsh powershell html css sass vue angular svelte nodejs deno django
    flask fastapi laravel pandas polars numpy scipy pytorch tensorflow keras docker kubernetes git
    github gitlab linux windows macos ubuntu debian fedora centos android ios mysql postgresql sqlite mongodb redis
    kafka excel powerpoint chrome firefox safari vscode vim emacs aws azure gcp
    usd eur gbp jpy cny inr chf cad aud btc eth dollar euro yen yuan rupee peso franc bitcoin
    english spanish french german italian portuguese russian chinese mandarin japanese korean arabic hindi dutch
    swedish polish turkish greek hebrew latin
    ww1 ww2 two_factor
    afghanistan albania algeria andorra angola argentina armenia australia austria azerbaijan bahamas bahrain
    bangladesh barbados belarus belgium belize benin bhutan bolivia bosnia botswana brazil brunei bulgaria burkina
    burundi cambodia cameroon canada chad chile china colombia comoros congo croatia cuba cyprus czechia czech
    denmark djibouti dominica ecuador egypt eritrea estonia eswatini ethiopia fiji finland france gabon gambia
    georgia germany ghana greece grenada guatemala guinea guyana haiti honduras hungary iceland india indonesia
    iran iraq ireland israel italy jamaica japan jordan kazakhstan kenya kiribati korea kosovo kuwait kyrgyzstan
    laos latvia lebanon lesotho liberia libya liechtenstein lithuania luxembourg madagascar malawi malaysia
    maldives mali malta mauritania mauritius mexico micronesia moldova monaco mongolia montenegro morocco
    mozambique myanmar namibia nauru nepal netherlands holland nicaragua niger nigeria norway oman pakistan palau
    palestine panama paraguay peru philippines poland portugal qatar romania russia rwanda samoa senegal serbia
    seychelles singapore slovakia slovenia somalia spain sudan suriname sweden switzerland syria taiwan
    tajikistan tanzania thailand togo tonga trinidad tunisia turkey turkmenistan tuvalu uganda ukraine uruguay
    uzbekistan vanuatu vatican venezuela vietnam yemen zambia zimbabwe us britain england scotland wales
    zealand arabia lanka rica salvador africa emirates kong york
    """
    )
    | UNITS
)
