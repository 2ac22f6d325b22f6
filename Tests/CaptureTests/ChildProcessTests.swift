import Foundation
import Glibc
import Testing

@testable import Capture

/// Writes an executable shell script.
private func script(_ folder: URL, _ name: String, _ body: String) throws -> String {
    let url = folder.appendingPathComponent(name)
    try Data(("#!/bin/sh\n" + body + "\n").utf8).write(to: url)
    try #require(chmod(url.path, 0o755) == 0)
    return url.path
}

/// Waits up to `seconds` for the process `pid` to be gone.
func processEnds(_ pid: Int32, within seconds: Double) -> Bool {
    let deadline = MonotonicClock.now() + seconds
    while MonotonicClock.now() < deadline {
        if kill(pid, 0) == -1 && errno == ESRCH { return true }
        usleep(20_000)
    }
    return false
}

@Suite struct ChildProcessTests {
    @Test func outputAndStatusAreCollected() throws {
        let result = try ChildProcess.run(
            "/bin/sh", [Array("-c".utf8), Array("echo out; echo err >&2; exit 3".utf8)], timeLimit: 10,
            what: "testing")
        #expect(result.termination == .exited(3))
        #expect(result.output == "out\n")
        #expect(result.error == "err\n")
    }

    /// A program that hangs is stopped at its time limit, and so is everything it started (its process group).
    @Test func aHangingProgramIsKilledWithItsChildrenAtTheLimit() throws {
        let folder = try temporaryFolder()
        defer { try? FileManager.default.removeItem(at: folder) }
        let pidFile = folder.appendingPathComponent("grandchild").path
        let hang = try script(folder, "hang", "sleep 1000 & echo $! > '\(pidFile)'; wait")
        let start = MonotonicClock.now()
        #expect(throws: ChildProcessError.timedOut(program: "hang", seconds: 1, what: "testing")) {
            _ = try ChildProcess.run(hang, [], timeLimit: 1, what: "testing")
        }
        #expect(MonotonicClock.now() - start < 3)
        let grandchild = try #require(
            Int32(String(contentsOfFile: pidFile, encoding: .utf8).trimmingCharacters(in: .whitespacesAndNewlines)))
        #expect(processEnds(grandchild, within: 2), "the program's own child must die with its group")
    }

    /// ffprobe that never answers (as on a stream that never ends) costs its time limit, not for ever.
    @Test func aHangingProbeIsAnUnreadableVideo() throws {
        let folder = try temporaryFolder()
        defer { try? FileManager.default.removeItem(at: folder) }
        let video = try makeTestVideo(in: folder, frames: 2, width: 16, height: 16, fps: 5)
        let ffprobe = try script(folder, "ffprobe", "exec sleep 1000")
        #expect {
            _ = try VideoFileSource.probe(video.path, ffprobe: ffprobe, timeLimit: 1)
        } throws: { error in
            (error as? SourceError)?.description
                == "cannot read video \(video.path): ffprobe took more than 1 s to read the video's header and was stopped"
        }
    }

    @Test func aMissingProgramIsNamed() {
        #expect(throws: ChildProcessError.cannotStart(program: "/no/such/program", errno: ENOENT)) {
            _ = try ChildProcess(executable: "/no/such/program", arguments: [String]())
        }
    }

    /// The child runs in a process group of its own, so a terminal's Ctrl-C (sent to clipcam's group) does not
    /// reach it, and clipcam stops it with its group.
    @Test func theChildHasItsOwnProcessGroup() throws {
        let child = try ChildProcess(executable: "/bin/sleep", arguments: ["1000"])
        #expect(getpgid(child.pid) == child.pid)
        #expect(child.isRunning)
        #expect(child.kill() == .signalled(SIGKILL))
        #expect(!child.isRunning)
    }
}
