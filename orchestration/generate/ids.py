"""Synthetic people: 身份证号 (GB 11643), Chinese names, birth dates — vectorised with numpy."""

from __future__ import annotations

import numpy as np
import pandas as pd

_WEIGHTS = np.array([7, 9, 10, 5, 8, 4, 2, 1, 6, 3, 7, 9, 10, 5, 8, 4, 2], dtype=np.int64)
_CHECK = np.array(list("10X98765432"))

SURNAMES = list(
    "王李张刘陈杨黄赵吴周徐孙马朱胡郭何林罗高郑梁谢宋唐许韩冯邓曹彭曾肖田董潘袁蔡蒋余于杜叶程魏苏吕丁任沈姚卢"
)
GIVEN = list(
    "伟芳娜秀英敏静丽强磊军洋勇艳杰娟涛明超兰霞平刚桂华建国志红玉梅凤春海波晓燕鹏辉飞浩宇欣怡子涵俊杰雪琳宏斌荣新利文丹凯"
)

# Sequence-number blocks (digits 15-17) so people drawn for different purposes never collide.
SEQ_BASE = {"pool": 0, "staff": 600, "deaths": 800}
SEQ_SPAN = {"pool": 300, "staff": 100, "deaths": 100}


def check_digit(first17: pd.Series) -> pd.Series:
    """GB 11643 check character for 17-digit strings (vectorised)."""
    arr = np.frombuffer("".join(first17.tolist()).encode("ascii"), dtype=np.uint8)
    digits = (arr.reshape(-1, 17) - 48).astype(np.int64)
    return pd.Series(_CHECK[(digits @ _WEIGHTS) % 11], index=first17.index)


def is_valid_id(ids: pd.Series) -> pd.Series:
    """True where a string is an 18-character 身份证号 with a correct check character."""
    s = ids.fillna("").astype(str)
    ok = s.str.fullmatch(r"\d{17}[\dX]")
    out = pd.Series(False, index=s.index)
    if ok.any():
        good = s[ok]
        out[ok] = check_digit(good.str[:17]).values == good.str[17].values
    return out


def make_ids(region: pd.Series, birth: pd.Series, sex: pd.Series, block: str) -> pd.Series:
    """Valid 身份证号 for people: region code + birth date + sequence (odd = male) + check.

    Uniqueness: the sequence counts people sharing (region, birth date, sex) inside `block`.
    """
    df = pd.DataFrame({"r": region.values, "b": birth.values, "s": sex.values})
    n = df.groupby(["r", "b", "s"], sort=False).cumcount().to_numpy()
    if len(n) and n.max() >= SEQ_SPAN[block] // 2:
        raise ValueError("too many people share a birth date for the id sequence block")
    parity = np.where(df["s"].to_numpy() == "1", 1, 2)
    seq = SEQ_BASE[block] + 2 * n + parity
    births = pd.Series(np.datetime_as_string(df["b"].to_numpy().astype("datetime64[D]"), unit="D"))
    first17 = (
        pd.Series(df["r"].to_numpy(), dtype=str)
        + births.str.replace("-", "", regex=False)
        + pd.Series(seq).astype(str).str.zfill(3)
    )
    return (first17 + check_digit(first17)).set_axis(region.index)


def corrupt_check(ids: pd.Series) -> pd.Series:
    """The same ids with a wrong check character (deterministic)."""
    nxt = {c: _CHECK[(i + 3) % 11] for i, c in enumerate(_CHECK)}
    return ids.str[:17] + ids.str[17].map(nxt)


def make_names(rng: np.random.Generator, n: int) -> pd.Series:
    sur = np.array(SURNAMES)[rng.integers(0, len(SURNAMES), n)]
    g1 = np.array(GIVEN)[rng.integers(0, len(GIVEN), n)]
    g2 = np.array(GIVEN)[rng.integers(0, len(GIVEN), n)]
    two = rng.random(n) < 0.7
    return (
        pd.Series(sur, dtype=str)
        + pd.Series(g1, dtype=str)
        + pd.Series(np.where(two, g2, ""), dtype=str)
    )


def completed_years(birth: pd.Series, at: pd.Series) -> pd.Series:
    """Age in completed years at a date (both datetime64 Series)."""
    b, a = pd.to_datetime(birth), pd.to_datetime(at)
    years = a.dt.year - b.dt.year
    before = (a.dt.month < b.dt.month) | ((a.dt.month == b.dt.month) & (a.dt.day < b.dt.day))
    return years - before.astype(int)
