"""DataTransfer from the CSMS (TC_062_CS)."""

from harness import CoreHarness


def test_tc_062_cs_data_transfer_to_a_charge_point():
    """TC_062_CS: an unknown vendorId -> UnknownVendorId, with no data."""
    h = CoreHarness()
    h.boot()
    assert h.csms_conf("DataTransfer", {"vendorId": "TestVendorId", "messageId": "x", "data": "y"}) == {
        "status": "UnknownVendorId"
    }


def test_own_vendor_unknown_message_id():
    h = CoreHarness()
    h.boot()
    assert h.csms_conf("DataTransfer", {"vendorId": "CROCUS INC", "messageId": "nope"}) == {
        "status": "UnknownMessageId"
    }


def test_vendor_id_is_case_insensitive():
    """vendorId is a CiString255 (spec §2.3): the station's own vendorId in another letter case is its own."""
    h = CoreHarness()
    h.boot()
    for vendor in ("crocus inc", "Crocus Inc", "CROCUS INC"):
        assert h.csms_conf("DataTransfer", {"vendorId": vendor, "messageId": "nope"}) == {"status": "UnknownMessageId"}
    assert h.csms_conf("DataTransfer", {"vendorId": "CROCUS INCX", "messageId": "nope"}) == {
        "status": "UnknownVendorId"
    }
