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
