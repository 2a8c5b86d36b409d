"""The report's methodology row of a vegetation class (carbonsink.pipeline.stages.report)."""

from __future__ import annotations

from carbonsink.config import VegetationClass
from carbonsink.i18n import Message, language
from carbonsink.pipeline.stages.report import _class_row


def test_a_measured_root_shoot_shows_its_standard_error_in_both_languages() -> None:
    measured = _class_row(
        "reed", VegetationClass(code=4, root_shoot=1.12, root_shoot_se=0.08, ch4_flux_mg_m2_d=3.0)
    )
    assumed = _class_row("sedge", VegetationClass(code=3, root_shoot=1.5))
    assert isinstance(measured.value, Message) and isinstance(assumed.value, Message)
    with language("en"):
        assert measured.value.translated() == (
            "CF 0.47, root:shoot 1.12 ± 0.08 (measured), CH4 3 mg/m²/d"
        )
        assert assumed.value.translated() == "CF 0.47, root:shoot 1.5, CH4 default mg/m²/d"
    with language("zh_CN"):
        assert measured.value.translated() == (
            "碳含量 CF 0.47，根冠比 1.12 ± 0.08（实测），CH4 3 mg/m²/d"
        )
