"""runtime/framelog.py: the optional frame log file rotates by size and keeps whole frames."""

from __future__ import annotations

from ocpp_station.runtime.framelog import FrameFile, FrameLog


def test_frame_file_rotates_and_keeps_every_frame_whole(tmp_path):
    path = tmp_path / "frames.log"
    log = FrameLog(size=5)  # the in-memory log keeps 5; the file keeps them all (up to its rotation)
    log.file = FrameFile(path, max_bytes=300, backups=2)
    big = '[2,"1","DataTransfer",{"vendorId":"X","data":"' + "y" * 70_000 + '"}]'  # beyond the HMI's 64 KiB cut
    log.add("out", big, 1_764_000_000.5)
    for i in range(10):
        log.add("in", f'[3,"{i}",{{}}]', 1_764_000_001.0 + i)
    log.file.close()
    rotated = [tmp_path / "frames.log.2", tmp_path / "frames.log.1", path]
    assert [p.exists() for p in rotated] == [True, True, True]
    assert not (tmp_path / "frames.log.3").exists()  # backups = 2
    newest = path.read_text().splitlines()
    assert newest[-1] == '2025-11-24T16:00:10.000Z in [3,"9",{}]'
    assert all(len(p.read_bytes()) <= 300 for p in rotated[1:])  # the rotated files hold whole lines


def test_big_frame_is_written_whole(tmp_path):
    path = tmp_path / "frames.log"
    log = FrameLog()
    log.file = FrameFile(path, max_bytes=10_000_000, backups=1)
    big = '[2,"1","DataTransfer",{"vendorId":"X","data":"' + "y" * 70_000 + '"}]'
    rec = log.add("out", big, 1_764_000_000.5)
    log.file.close()
    assert len(rec.text) < len(big)  # the in-memory record is cut for the HMI
    assert path.read_text() == "2025-11-24T16:00:00.500Z out " + big + "\n"



def test_the_authorization_key_never_reaches_the_frame_log_or_its_file(tmp_path):
    """[SEC] A01.FR.12: ChangeConfiguration(AuthorizationKey)'s value is hidden in the records (control API, HMI,
    session log) and in the frame file; other frames stay as they were."""
    from ocpp_station.runtime.framelog import FrameFile, FrameLog

    log = FrameLog()
    log.file = FrameFile(tmp_path / "frames.log", 1 << 20, 1)
    secret = "4F43415F4F4354545F61646D696E5F74657374"
    rec = log.add("in", f'[2,"c1","ChangeConfiguration",{{"key":"authorizationKey","value":"{secret}"}}]', 0.0)
    assert secret not in rec.text and '"value":"<hidden>"' in rec.text and rec.action == "ChangeConfiguration"
    other = '[2,"c2","ChangeConfiguration",{"key":"HeartbeatInterval","value":"30"}]'
    assert log.add("in", other, 0.0).text == other
    log.file.close()
    assert secret not in (tmp_path / "frames.log").read_text()
