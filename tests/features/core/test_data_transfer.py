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
