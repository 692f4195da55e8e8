"""One definition of the test cards: the dev CSMS, the demo and the HMI's saved cards agree."""

from __future__ import annotations

import re
from importlib import resources

from ocpp_station import demo
from ocpp_station.csms import DevCsms
from ocpp_station.csms.cards import DEMO_CARD, TEST_CARDS


async def test_dev_csms_answers_the_test_cards_by_default(csms: DevCsms, station_factory) -> None:
    async with station_factory("CP1") as st:
        for tag, status in [("INVALID01", "Invalid"), ("blocked01", "Blocked"), ("EXPIRED01", "Expired"),
                            (DEMO_CARD, "Accepted"), ("ANYTHING", "Accepted")]:
            assert (await st.call("Authorize", {"idTag": tag}))[2] == {"idTagInfo": {"status": status}}


def test_explicit_id_tags_replace_the_test_cards() -> None:
    assert DevCsms(id_tags={}).id_tag_info("INVALID01") == {"status": "Accepted"}
    assert DevCsms(id_tags={"X": "Blocked"}).id_tags == {"X": {"status": "Blocked"}}


def test_demo_and_hmi_use_the_same_cards() -> None:
    assert demo.ID_TAG == DEMO_CARD
    page = resources.files("ocpp_station.control").joinpath("hmi", "index.html").read_text("utf-8")
    saved = re.findall(r'class="card" data-tag="([^"]+)"', page)
    assert saved == [DEMO_CARD, *TEST_CARDS]
