"""Reading a typed reply to the question being asked, for every question kind, from the
flow's data alone: the options' numbers, labels and synonyms, a yes / no / not sure inside a
sentence, numbers in digits or words, durations against the ranges the labels name, and
several picks at once. The result is a Reading; the dialog decides what to do with it.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from rapidfuzz.distance import OSA

from bot.engine.durations import by_duration, in_digits
from bot.engine.flow import NO, UNSURE, YES, Option, State
from bot.engine.matching import MAX_MATCH_LENGTH, is_hedged, match_option, normalize

OPTION, SEVERAL, VALUE, CONFIRM, DONE, NOTHING = (
    "option", "several", "value", "confirm", "done", "nothing")
OUT_OF_RANGE = "out_of_range"
ONLY_ONE_AT = 0.3  # a reply naming only one option, with at least this much of it, means it
CONFIRM_AT = 0.5  # a reply naming at least half of an option's words is worth asking about
MAX_CANDIDATES = 3

DONE_WORDS = frozenset({
    "done", "that's all", "thats all", "finished", "that's it", "thats it", "nothing else",
    "no more", "all done", "im done", "i'm done", "thats everything", "that's everything"})
_YES = frozenset({"yes", "yeah", "yep", "yup", "ya", "yea", "yah", "ye", "y", "sure",
                  "definitely", "absolutely", "correct", "certainly", "affirmative", "aye",
                  "yess", "yesss", "ok", "okay", "right", "true", "indeed", "do", "does",
                  "did", "have", "has", "am", "is"})
_STRONG_YES = _YES - {"ok", "okay", "right", "true", "do", "does", "did", "have", "has", "am",
                      "is"}
_ADVERBS = frozenset({"definitely", "absolutely", "certainly", "surely"})
_NO = frozenset({"no", "nah", "nope", "naw", "not", "never", "none", "n", "nothing", "neither",
                 "nay", "noo", "nooo", "negative"})  # not "without": "without a doubt" is a yes
_NEGATED_VERB = re.compile(r"\b\w+n't\b|\bcannot\b|\b(?:dont|doesnt|didnt|havent|hasnt|isnt"
                           r"|wasnt|cant|wont|arent|werent|aint|couldnt|wouldnt)\b")
_SOFT_NO = re.compile(r"\b(?:don'?t think so|do not think so|not that i know|i doubt it"
                      r"|probably not|not as far as i know|i don'?t believe so)\b")
_FINE = re.compile(r"\b(?:fine|all good|feel good|feels good|i'?m good|healthy|normal"
                   r"|ok|okay|alright)\b")
_CANNOT = re.compile(r"\b(?:can'?t|cannot|unable|won'?t|couldn'?t)\b")
_STOP = frozenset({
    "a", "an", "the", "i", "im", "i'm", "my", "me", "it", "its", "it's", "is", "was", "are",
    "of", "or", "and", "to", "on", "at", "for", "with", "be", "been", "so", "um", "uhm", "uh",
    "like", "well", "just", "really", "pretty", "bit", "lol", "haha", "hmm", "think", "guess",
    "kinda", "mostly", "quite", "very", "that", "this", "there", "when", "do", "did", "get",
    "gets", "got", "feel", "feels", "yes", "no", "not", "sure", "your", "you", "some", "thing",
    "one", "ones", "too", "also", "more", "much", "then", "than", "if", "but", "oh", "ok",
    "okay", "yeah", "yep", "nah", "nope", "definitely", "probably", "maybe", "let's", "lets"})
_NEGATORS = _NO | {"without", "dont", "don't", "doesnt", "doesn't", "didnt", "didn't", "isnt",
                   "isn't", "havent", "haven't", "hasnt", "hasn't", "wasnt", "wasn't"}
_WORD = re.compile(r"[a-z0-9]+(?:'[a-z]+)?")
_CLAUSES = re.compile(r"[,;.!?]|\bbut\b")
_ORDINALS = {"first": 1, "second": 2, "third": 3, "fourth": 4, "fifth": 5, "sixth": 6,
             "seventh": 7, "eighth": 8, "last": -1}
_PICK = re.compile(r"(?:option|number|no\.?|answer|#)?\s*(\d{1,2})(?:st|nd|rd|th)?\.?")
_NUMBER = re.compile(r"(?<![\d.])(\d{1,4}(?:[.,]\d{1,2})?)(?![\d])")
_SCALE = re.compile(r"(?:/|out of|outta|of)\s*10\b")


@dataclass(frozen=True, slots=True)
class Reading:
    """What a typed reply means for one question: one option, several, a number, "did you
    mean one of these", "done" (a pick-several question), or nothing understood."""

    kind: str
    options: tuple[Option, ...] = ()
    value: Any = None  # a number, or a typed name or address
    problem: str = ""

    @property
    def option(self) -> Option:
        return self.options[0]


NOT_UNDERSTOOD = Reading(NOTHING)


def read(state: State, text: str, choices: Sequence[Option] | None = None) -> Reading:
    """The reading of `text` as an answer to `state`; `choices` are the buttons shown in the
    order they are numbered (the state's options, then its actions), the options by default."""
    options = tuple(state.options if choices is None else choices)
    answer = normalize(text)
    if not answer or len(answer) > MAX_MATCH_LENGTH:
        return NOT_UNDERSTOOD
    if state.multi and answer in DONE_WORDS:
        return Reading(DONE)
    if state.multi and answer == str(len(options) + 1):
        return Reading(DONE)  # Done is the button numbered after the options
    digits = in_digits(answer)
    wants_number = state.input is not None and state.input.type == "number"
    if wants_number:
        negative = text.strip().startswith(("-", "\u2212"))  # normalize drops the sign
        number = _number(state, digits, negative)
        if number is not None:
            return number
    exact = match_option(answer, options) if not wants_number else _exact(answer, options)
    if exact is not None:
        return Reading(OPTION, (exact,))
    picked = _picked_by_number(digits, options, several=state.multi)
    if picked:
        return _picks(state, picked)
    if not options:
        return NOT_UNDERSTOOD
    safety = bool(state.safety)
    unsure = next((o for o in options if o.id == UNSURE), None)
    if safety:
        reading = _safety(answer, options, unsure)
        if reading.kind == CONFIRM:  # every answer, so a typed "yes" can only mean Yes
            return Reading(CONFIRM, tuple(o for o in options if not o.id.startswith("/")))
        return reading
    return _options(state, answer, digits, options, unsure)


def _safety(answer: str, options: tuple[Option, ...], unsure: Option | None) -> Reading:
    """A safety question is never guessed: a hedge is "Not sure", a clear yes or no is taken,
    anything else that names an answer is confirmed."""
    if unsure is not None and is_hedged(answer) and not _SOFT_NO.search(answer):
        if _words(answer)[0] in _STRONG_YES | _NO - {"not"}:
            return _confirm(options)  # "yes, couldn't do it": a yes and a hedge, asked
        return Reading(OPTION, (unsure,))
    by_id = {o.id: o for o in options}
    if _SOFT_NO.search(answer):
        return _confirm([by_id[i] for i in (NO, UNSURE) if i in by_id])
    polarity = polarity_of(answer)
    if polarity == NO and _CANNOT.search(answer) and len(_words(answer)) > 2:
        # "no, I can't straighten it": the words fight the "no" on a question about what
        # cannot be done; asked, never guessed
        return _confirm([by_id[i] for i in (YES, NO) if i in by_id])
    if polarity in (YES, NO) and polarity in by_id:
        return Reading(OPTION, (by_id[polarity],))
    if polarity == "both" or _FINE.search(answer):
        return _confirm([by_id[i] for i in (YES, NO, UNSURE) if i in by_id])
    scores = _scores(answer, options)
    candidates = _candidates(scores, options)
    if not candidates and len(_words(answer)) >= 3:  # told something: which answer is it?
        return _confirm(options)
    return _confirm(candidates) if candidates else NOT_UNDERSTOOD


def _options(state: State, answer: str, digits: str, options: tuple[Option, ...],
             unsure: Option | None) -> Reading:
    scores = _scores(answer, options)
    full = [o for o, s in zip(options, scores, strict=True) if s >= 0.999]
    if state.multi and full:
        return _picks(state, full)
    timed = by_duration(digits, options)  # "3 months" is a time, not the words "3 months"
    if len(full) == 1 and full[0] is not unsure and not timed and not polarity_of(answer):
        return Reading(OPTION, (full[0],))  # "kinda all over": the words, hedged or not
    if unsure is not None and is_hedged(answer):
        return Reading(OPTION, (unsure,))
    polar = _polar_options(answer, options)
    if polar is not None:
        narrowed = ([o for o in polar if o in timed] or [o for o in polar if o in full]
                    or polar)
        if len(narrowed) == 1:
            return Reading(OPTION, (narrowed[0],))
        return _confirm(narrowed)
    if len(timed) == 1:
        return Reading(OPTION, (timed[0],))
    if len(full) == 1:
        return Reading(OPTION, (full[0],))
    if len(full) > 1:
        return _confirm(full)
    named = [o for o, score in zip(options, scores, strict=True) if score >= ONLY_ONE_AT]
    if len(named) == 1 and sum(score > 0 for score in scores) == 1:
        return Reading(OPTION, (named[0],))  # "contact": a word only one answer has
    if 1 < len(named) <= MAX_CANDIDATES and max(scores) < CONFIRM_AT:
        return _confirm(named)  # "landing", where two answers say it
    candidates = _candidates(scores, options)
    return _confirm(candidates) if candidates else NOT_UNDERSTOOD


def _confirm(options: Sequence[Option]) -> Reading:
    return Reading(CONFIRM, tuple(options[:MAX_CANDIDATES])) if options else NOT_UNDERSTOOD


def _picks(state: State, picked: Sequence[Option]) -> Reading:
    if len(picked) == 1:
        return Reading(OPTION, (picked[0],))
    if not state.multi:
        return _confirm(picked)
    plain = [o for o in picked if not o.exclusive]
    return Reading(SEVERAL, tuple(plain)) if plain else _confirm(picked)


# -- numbers -----------------------------------------------------------------------------------

def _number(state: State, digits: str, negative: bool) -> Reading | None:
    """A number where a number is asked: "a 6 I guess", "six", "6/10"; two different numbers
    ("5 or 6") are not one answer."""
    assert state.input is not None
    scale_free = _SCALE.sub(" ", digits)
    found = {float(n.replace(",", ".")) for n in _NUMBER.findall(scale_free)}
    if len(found) != 1:
        return None
    number = found.pop()
    if negative:
        number = -number
    low, high = state.input.minimum, state.input.maximum
    if (low is not None and number < low) or (high is not None and number > high):
        return Reading(NOTHING, value=number, problem=OUT_OF_RANGE)
    return Reading(VALUE, value=int(number) if number.is_integer() else number)


def _exact(answer: str, options: Sequence[Option]) -> Option | None:
    """An option by its words only (where typed numbers are values, not buttons)."""
    return next((o for o in options if answer in (normalize(o.label), o.id.lower())
                 or answer in o.synonyms), None)


def _picked_by_number(digits: str, options: Sequence[Option], several: bool) -> list[Option]:
    """Buttons by their numbers: "2", "#2", "option 2", "the second one", "1, 3", "1 and 3"."""
    ordinal_one = re.sub(r"\b(\d+(?:st|nd|rd|th)) 1\b", r"\1", digits)  # "the 1st 1"
    words = [w for w in _words(ordinal_one) if w not in ("the", "one", "please", "pick")]
    cleaned = " ".join(words)
    if cleaned in _ORDINALS:
        index = _ORDINALS[cleaned]
        return [options[index if index < 0 else index - 1]] if len(options) >= abs(index) else []
    parts = [p for p in re.split(r"[,;&+\s]+|\band\b", cleaned) if p]
    if not parts or not all(_PICK.fullmatch(p) for p in parts):
        whole = _PICK.fullmatch(cleaned)
        parts = [cleaned] if whole else []
    if not parts or (len(parts) > 1 and not several):
        return []
    picked: list[Option] = []
    for part in parts:
        match = _PICK.fullmatch(part)
        assert match is not None
        index = int(match.group(1)) - 1
        if not 0 <= index < len(options):
            return []
        if options[index] not in picked:
            picked.append(options[index])
    return picked


# -- yes and no ------------------------------------------------------------------------------

def polarity_of(answer: str) -> str:
    """yes, no, both (a yes and a no) or "" for a reply that says neither."""
    words = _words(answer)
    if not words:
        return ""
    if words[0] in _STRONG_YES and not (set(words[1:3]) & {"not", "never"}):
        return YES
    if words[0] in _ADVERBS and words[1:2] == ["not"]:
        return NO  # "definitely not"
    if words[0] in _NO:
        return NO
    has_no = bool(set(words) & _NO) or bool(_NEGATED_VERB.search(answer))
    has_yes = bool(set(words) & _STRONG_YES)
    if has_no and has_yes:
        return "both"
    return NO if has_no else YES if has_yes else ""


def _polar_options(answer: str, options: Sequence[Option]) -> list[Option] | None:
    """The options a plain yes or no points to: those whose id is it or whose label starts
    with it ("Yes, knee touches the wall"); None where the reply says neither or the
    question has no such options."""
    polarity = polarity_of(answer)
    if polarity not in (YES, NO):
        return None
    matching = [o for o in options if o.id == polarity or polarity in o.synonyms
                or normalize(o.label).split(",")[0].split()[0:1] == [polarity]]
    return matching or None


# -- words -----------------------------------------------------------------------------------

def _words(text: str) -> list[str]:
    return _WORD.findall(text.lower().replace("\u2019", "'"))


_SUFFIXES = ("ing", "ed", "er", "es", "s")


def _stem(word: str) -> str:
    word = word.replace("'", "")
    for suffix in _SUFFIXES:
        if word.endswith(suffix) and len(word) - len(suffix) >= (4 if suffix == "er" else 3):
            word = word[: -len(suffix)]
            if len(word) > 3 and word[-1] == word[-2]:  # running -> run, squatting -> squat
                word = word[:-1]
            return word
    return word


def _content(phrase: str) -> list[str]:
    words = _words(phrase)
    kept = [w for w in words if w not in _STOP or w in _NEGATORS]
    if kept and all(w in _NEGATORS for w in kept):
        kept = words  # "Not sure" is both its words: a bare "not" elsewhere does not name it
    meaningful = [_stem(w) for w in kept]
    # a bare "yes" or "no" is a polarity, read as one (polarity_of), not as words
    return meaningful or [_stem(w) for w in words if w not in _STRONG_YES | _NO]


def _negates(phrase: str) -> bool:
    return any(w in _NEGATORS or w.endswith("n't") for w in _words(phrase)) or bool(
        _CANNOT.search(phrase.lower()))


def _reply_words(answer: str) -> list[str]:
    """The reply's words, stemmed, without those a negation takes back ("no pain on stairs"
    does not name stairs; "nah hips feel fine" does not name the hips)."""
    kept: list[str] = []
    for clause in _CLAUSES.split(answer):  # a negation ends with its clause
        kept += _clause_words(clause)
    return kept


def _clause_words(clause: str) -> list[str]:
    kept: list[str] = []
    negated = 0
    for word in _words(clause):
        if word in _NEGATORS or word.endswith("n't"):
            negated = 3
            kept.append(_stem(word))
            continue
        if negated:
            negated -= 1
            if word not in _STOP:
                continue
        kept.append(_stem(word))
    return kept


def _like(word: str, said: str) -> bool:
    """An option's word in a reply's: a filler word ("sure" in "not sure") only as itself,
    never as a slip of another ("sore")."""
    return word == said if said in _STOP else _same(word, said)


def _same(a: str, b: str) -> bool:
    if a == b:
        return True
    if a.startswith(b) or b.startswith(a):
        # another word ("knee" is not "kneel"), unless the rest is a suffix with a slip
        shorter = min(len(a), len(b))
        rest = (a if len(a) > len(b) else b)[shorter:]
        return shorter >= 3 and len(rest) >= 2 and any(
            OSA.distance(rest, end) <= 1 for end in _SUFFIXES)
    shortest = min(len(a), len(b))
    # one slip (a letter missed, added, changed or swapped: "strat"), two in a long word
    return shortest >= 4 and OSA.distance(a, b) <= (1 if shortest < 7 else 2)


def _scores(answer: str, options: Sequence[Option]) -> list[float]:
    """How much of each option the reply names: the best of its label and synonyms, each
    word weighed by how few options share it (a word every option has tells nothing)."""
    phrases = [[_content(p) for p in (o.label, *o.synonyms)] for o in options]
    share: dict[str, int] = {}
    for option_phrases in phrases:
        for word in {w for p in option_phrases for w in p}:
            share[word] = share.get(word, 0) + 1
    reply = _reply_words(answer)
    # An option whose own words negate ("Can't walk normally yet") is named by the words a
    # negation would otherwise take back.
    every_word = [_stem(w) for w in _words(answer)]
    negating = [[_negates(p) for p in (o.label, *o.synonyms)] for o in options]
    scores = []
    for option_phrases, option_negating in zip(phrases, negating, strict=True):
        best = 0.0
        for phrase, negates in zip(option_phrases, option_negating, strict=True):
            said = every_word if negates else reply
            weights = [1.0 / share[w] for w in phrase]
            found = sum(w for word, w in zip(phrase, weights, strict=True)
                        if any(_like(word, r) for r in said))
            best = max(best, found / sum(weights) if weights else 0.0)
        scores.append(best)
    return scores


def _candidates(scores: list[float], options: Sequence[Option]) -> list[Option]:
    best = max(scores, default=0.0)
    if best < CONFIRM_AT:
        return []
    ranked = sorted(enumerate(scores), key=lambda s: -s[1])
    return [options[i] for i, s in ranked if s >= max(CONFIRM_AT, best - 0.25)]
