"""Each formula against hand-computed values (numbers worked out in the comments)."""

from __future__ import annotations

import math

import ibis
import pandas as pd
import pytest

from journeymap.voice.formulas import emotion_expr
from journeymap.voice.settings import VoiceSettingsError, voice_settings
from journeymap.voice.stats import (
    fisher_z_interval,
    mean_interval,
    nps_interval,
    wilson_interval,
)


def test_wilson_hand_computed():
    # p = .8, n = 10: centre = .8 + 1.96²/20 = .99207; half = 1.96·sqrt(.016 + 1.96²/400)
    # = .31362; denominator 1 + 1.96²/10 = 1.38415 -> (.49016, .94331)
    low, high = wilson_interval(8, 10)
    assert low == pytest.approx(0.49016, abs=1e-4)
    assert high == pytest.approx(0.94331, abs=1e-4)
    # zero successes: lower bound exactly 0, upper (1.96²/20 + 1.96·sqrt(1.96²/400))/1.38415
    low, high = wilson_interval(0, 10)
    assert low == 0.0 and high == pytest.approx(0.27753, abs=1e-4)
    assert all(math.isnan(x) for x in wilson_interval(0, 0))


def test_nps_interval_hand_computed():
    # 4 promoters, 4 detractors, 2 passives: NPS 0, Var = (.4 + .4 - 0)/10 = .08,
    # half = 1.96·sqrt(.08) = .55437 -> ±55.44 points
    low, high = nps_interval(4, 4, 10)
    assert low == pytest.approx(-55.437, abs=1e-2) and high == pytest.approx(55.437, abs=1e-2)
    # 8 promoters, 1 detractor: NPS 70, Var = (.9 - .49)/10 = .041, half = .39687:
    # (30.31, 109.69) clipped to 100
    low, high = nps_interval(8, 1, 10)
    assert low == pytest.approx(30.313, abs=1e-2) and high == 100.0


def test_mean_interval_hand_computed():
    # 5,4,4,3,5: mean 4.2, sd = sqrt(2.8/4) = .83666, t(.975, 4) = 2.776445
    # half = 2.776445·.83666/sqrt(5) = 1.03885
    low, high = mean_interval(4.2, math.sqrt(0.7), 5)
    assert low == pytest.approx(3.16115, abs=1e-4) and high == pytest.approx(5.23885, abs=1e-4)
    assert all(math.isnan(x) for x in mean_interval(3.0, float("nan"), 1))


def test_fisher_z_hand_computed():
    # r = .5, n = 28: z = atanh(.5) = .549306, se = 1/5 = .2 -> tanh(.549306 ± .392)
    low, high = fisher_z_interval(0.5, 28)
    assert low == pytest.approx(math.tanh(0.549306 - 0.391993), abs=1e-5)
    assert high == pytest.approx(math.tanh(0.549306 + 0.391993), abs=1e-5)
    # Spearman widens by sqrt(1.06)
    s_low, _ = fisher_z_interval(0.5, 28, spearman=True)
    assert s_low == pytest.approx(math.tanh(0.549306 - 0.391993 * math.sqrt(1.06)), abs=1e-5)
    assert all(math.isnan(x) for x in fisher_z_interval(0.5, 3))


def test_emotion_formula_hand_computed():
    rows = pd.DataFrame(
        {
            "kind": ["nps", "csat", "ticket", "ces", "nps", "review", "csat"],
            "score": [10.0, 1.0, None, 4.0, 5.0, None, 9.0],
            "sentiment": [0.64, None, -0.5, 0.2, None, None, None],
        }
    )
    t = ibis.memtable(rows)
    got = t.mutate(e=emotion_expr(t, voice_settings(None))).to_pandas()["e"].tolist()
    # nps 10 -> s = 1, with c .64: 2·(1 + .64)/2 = 1.64
    # csat 1 of 1..5 -> s = -1, no text: -2
    # ticket, text only: 2·(-.5) = -1
    # ces 4 of 1..7 -> s = 0, with c .2: 2·(0 + .2)/2 = .2
    # nps 5 of 0..10 -> s = 0: 0
    # review without score or text: NULL
    # csat 9 is off the 1..5 scale: s clipped to 1 -> 2
    expected = [1.64, -2.0, -1.0, 0.2, 0.0, None, 2.0]
    for g, e in zip(got, expected, strict=True):
        if e is None:
            assert g is None or math.isnan(g)
        else:
            assert g == pytest.approx(e)


def test_settings_errors_name_the_field():
    with pytest.raises(VoiceSettingsError, match="csat_mode = 'median'"):
        voice_settings({"voice": {"csat_mode": "median"}})
    with pytest.raises(VoiceSettingsError, match="min_n"):
        voice_settings({"voice": {"min_n": 0}})
    with pytest.raises(VoiceSettingsError, match="scales.ces"):
        voice_settings({"voice": {"scales": {"ces": [5, 1]}}})
    assert voice_settings({"voice": {"scales": {"ces": [1, 5]}}}).scale("ces") == (1.0, 5.0)
