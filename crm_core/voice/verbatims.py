"""What customers wrote: their comments split into words, the frequent words of a group
and each word's NPS impact, and the comments themselves with contact details masked for
roles that may not see personal data.

- Chinese text is split into words by jieba (a maintained dictionary-based segmenter),
  other text into runs of letters; words are lower-cased. Stop words (STOP_WORDS), words
  of one character and anything holding a digit or an '@' (phone numbers, e-mails) are
  left out.
- A word's NPS impact [points] = NPS of all answers - NPS of the answers whose comment
  does not use the word. A word that detractors use has a negative impact: without those
  answers the NPS would be higher.
"""

from __future__ import annotations

import logging
import re
from collections.abc import Sequence
from functools import lru_cache

import numpy as np
import pandas as pd
from scipy import sparse

from crm_core.auth import SEE_PERSONAL_DATA, Actor
from crm_core.outreach.privacy import mask_contacts_in_text
from crm_core.voice.nps import DETRACTOR_MAX, MIN_ANSWERS, PROMOTER_MIN, nps_bands

CJK = re.compile(r"[\u3400-\u4dbf\u4e00-\u9fff\uf900-\ufaff]")
LATIN_WORD = re.compile(r"[^\W\d_]+(?:'[^\W\d_]+)?")
E_MAIL = re.compile(r"[^\s@]*@\S*")
_STOP_ZH = (
    "的 了 是 我 你 他 她 它 们 很 也 都 就 还 和 与 及 在 有 没 没有 不 太 再 又 把 被 给 让 "
    "这 那 这个 那个 一个 一下 一点 有点 一般 非常 比较 真的 就是 还是 但是 "
    "而且 然后 因为 所以 如果 可以 已经 我们 你们 他们 自己 什么 怎么 这么 "
    "那么 吧 吗 呢 啊 哦 哈 呀 嗯 点 个 次 下 上 中 会 要 能 说 看 用 买 到 "
    "得 着 过 来 去 东西 觉得 感觉"
)
_STOP_EN = (
    "a an the and or but if then so to of in on at for from by with without as is are was "
    "were be been being it its it's this that these those i me my we our you your he she "
    "they them their his her not no very too just really also again more most much some any "
    "all can could would should will do does did done have has had get got one ok okay bit "
    "little after before than there here what which who when where why how "
)
STOP_WORDS_ZH = frozenset(_STOP_ZH.split())
STOP_WORDS_EN = frozenset(_STOP_EN.split())
STOP_WORDS = STOP_WORDS_ZH | STOP_WORDS_EN
"""Words left out of word counts (Chinese particles and pronouns, English function words)."""
WORD_COLUMNS: tuple[str, ...] = (
    "word",
    "answers",
    "share",
    "promoters",
    "detractors",
    "nps_with",
    "nps_without",
    "impact",
)
VERBATIM_COLUMNS: tuple[str, ...] = (
    "responded_at",
    "customer_id",
    "nps",
    "band",
    "csat",
    "comment",
)

WORD_CACHE_TEXTS = 500_000
"""Distinct comment texts whose words are kept in memory (about 100 MB at most)."""

logger = logging.getLogger(__name__)


@lru_cache(maxsize=1)
def _segmenter():
    """jieba's default tokenizer, loaded once (its dictionary takes about a second)."""
    import jieba

    jieba.setLogLevel(logging.WARNING)
    tokenizer = jieba.Tokenizer()
    tokenizer.initialize()
    return tokenizer


def comment_words(text: object) -> list[str]:
    """The distinct counted words of one comment, in order of first use."""
    if not isinstance(text, str) or not text.strip():
        return []
    return list(_words_of(text))


@lru_cache(maxsize=WORD_CACHE_TEXTS)
def _words_of(text: str) -> tuple[str, ...]:
    """`comment_words` of a text, kept: a page that reruns splits each text once."""
    lowered = E_MAIL.sub(" ", text.lower())
    pieces = _segmenter().lcut(lowered) if CJK.search(lowered) else LATIN_WORD.findall(lowered)
    words = []
    for piece in pieces:
        word = piece.strip()
        if len(word) < 2 or word in STOP_WORDS or "@" in word or any(c.isdigit() for c in word):
            continue
        if not CJK.search(word) and not LATIN_WORD.fullmatch(word):
            continue
        words.append(word)
    return tuple(dict.fromkeys(words))


def word_matrix(comments: pd.Series) -> tuple[sparse.csr_matrix, np.ndarray]:
    """(answers x words incidence matrix, the words): entry (i, j) is 1 when comment i
    uses word j. Each distinct comment text is split once."""
    codes, texts = pd.factorize(comments.astype("object"), use_na_sentinel=True)
    vocabulary: dict[str, int] = {}
    text_rows: list[int] = []
    text_columns: list[int] = []
    for number, text in enumerate(texts):
        for word in comment_words(text):
            text_rows.append(number)
            text_columns.append(vocabulary.setdefault(word, len(vocabulary)))
    by_text = sparse.csr_matrix(
        (np.ones(len(text_rows), dtype=np.int8), (text_rows, text_columns)),
        shape=(len(texts), len(vocabulary)),
    )
    has_text = codes >= 0
    picker = sparse.csr_matrix(
        (np.ones(has_text.sum(), dtype=np.int8), (np.flatnonzero(has_text), codes[has_text])),
        shape=(len(comments), len(texts)),
    )
    words = np.array(list(vocabulary), dtype=object)
    return (picker @ by_text).tocsr(), words


def word_impacts(
    answers: pd.DataFrame,
    matrix: sparse.csr_matrix | None = None,
    words: np.ndarray | None = None,
    min_answers: int = 3,
) -> pd.DataFrame:
    """Per word used in at least `min_answers` comments of the answers with an NPS score:
    WORD_COLUMNS. answers: comments using it; share [% of all NPS answers];
    nps_with / nps_without: NPS of the answers using it / not using it; impact = NPS of
    all - nps_without [points]. Most used first. `matrix`/`words` from `word_matrix` of
    answers["comment"] (computed when not given)."""
    if matrix is None or words is None:
        matrix, words = word_matrix(answers["comment"])
    scores = answers["nps"].astype("Float64")
    scored = scores.notna().to_numpy()
    promoter = (scores >= PROMOTER_MIN).fillna(False).to_numpy(dtype=np.float64)
    detractor = (scores <= DETRACTOR_MAX).fillna(False).to_numpy(dtype=np.float64)
    incidence = matrix[scored]
    total = scored.sum()
    if total == 0 or incidence.shape[1] == 0:
        return pd.DataFrame({name: pd.Series(dtype="float64") for name in WORD_COLUMNS})
    used = np.asarray(incidence.sum(axis=0)).ravel().astype(np.int64)
    promoters = np.asarray(incidence.T @ promoter[scored]).ravel()
    detractors = np.asarray(incidence.T @ detractor[scored]).ravel()
    all_nps = 100.0 * (promoter[scored].sum() - detractor[scored].sum()) / total
    with np.errstate(invalid="ignore", divide="ignore"):
        nps_with = 100.0 * (promoters - detractors) / used
        rest = total - used
        nps_without = np.where(
            rest > 0,
            100.0
            * ((promoter[scored].sum() - promoters) - (detractor[scored].sum() - detractors))
            / rest,
            np.nan,
        )
    frame = pd.DataFrame(
        {
            "word": words,
            "answers": used,
            "share": 100.0 * used / total,
            "promoters": promoters.astype(np.int64),
            "detractors": detractors.astype(np.int64),
            "nps_with": nps_with,
            "nps_without": nps_without,
            "impact": all_nps - nps_without,
        }
    )
    frame = frame[frame["answers"] >= min_answers]
    return frame.sort_values(["answers", "word"], ascending=[False, True]).reset_index(drop=True)


def words_by_group(
    answers: pd.DataFrame,
    groups: pd.Series,
    top: int = 10,
    min_group: int = MIN_ANSWERS,
) -> pd.DataFrame:
    """The `top` most used words of each group with at least `min_group` NPS answers:
    group, then WORD_COLUMNS, each word's impact within its group."""
    matrix, words = word_matrix(answers["comment"])
    names = pd.Series(groups, index=answers.index).astype("string")
    parts = []
    for name in sorted(names.dropna().unique()):
        inside = (names == name).fillna(False).to_numpy()
        if answers.loc[inside, "nps"].notna().sum() < min_group:
            continue
        table = word_impacts(answers[inside], matrix[inside], words).head(top)
        table.insert(0, "group", name)
        parts.append(table)
    if not parts:
        return pd.DataFrame({name: pd.Series(dtype="float64") for name in ("group", *WORD_COLUMNS)})
    return pd.concat(parts, ignore_index=True)


def verbatims(
    answers: pd.DataFrame,
    actor: Actor | None,
    *,
    bands: Sequence[str] | None = None,
    word: str | None = None,
) -> pd.DataFrame:
    """The answers with a comment, newest first: VERBATIM_COLUMNS plus any other columns
    of `answers` (segment, tags ...). Only those whose NPS band is in `bands`
    (promoter / passive / detractor) and whose comment contains `word` (ignoring case)
    when given. Phone numbers and e-mail addresses inside the comments are masked unless
    `actor` may see personal data (the word is then looked for in the masked text)."""
    has_comment = answers["comment"].notna() & (answers["comment"].astype(str).str.strip() != "")
    frame = answers[has_comment.to_numpy()].copy()
    if actor is None or not actor.may(SEE_PERSONAL_DATA):
        frame["comment"] = mask_contacts_in_text(frame["comment"].astype(str))
    frame["band"] = nps_bands(frame["nps"])
    keep = np.ones(len(frame), dtype=bool)
    if bands is not None:
        keep &= frame["band"].isin(list(bands)).fillna(False).to_numpy()
    if word and word.strip():
        keep &= (
            frame["comment"].astype(str).str.contains(word.strip(), case=False, regex=False)
        ).to_numpy()
    frame = frame[keep]
    frame = frame.sort_values(["responded_at"], ascending=False)
    rest = [c for c in frame.columns if c not in VERBATIM_COLUMNS]
    return frame[[*VERBATIM_COLUMNS, *rest]].reset_index(drop=True)
