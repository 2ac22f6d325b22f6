// Child processes (ffmpeg, ffprobe, clipcam itself in `bench`) that can neither hang clipcam nor outlive it:
// each runs in a process group of its own and gets SIGKILL when clipcam ends (CLinux's spawn sets
// PR_SET_PDEATHSIG), every wait for one has a time limit, and stopping one kills its whole group.
import CLinux
import Foundation
import Glibc
import SafeFiles

/// Failures of a child process; each names the program.
public enum ChildProcessError: Error, CustomStringConvertible, Equatable {
    case cannotStart(program: String, errno: Int32)
    case timedOut(program: String, seconds: Double, what: String)

    public var description: String {
        switch self {
        case .cannotStart(let program, let code):
            return "cannot start \(program): \(String(cString: strerror(code)))"
        case .timedOut(let program, let seconds, let what):
            return "\(program) took more than \(formatSeconds(seconds)) s \(what) and was stopped"
        }
    }
}

private func formatSeconds(_ seconds: Double) -> String {
    seconds == seconds.rounded() ? String(Int(seconds)) : String(seconds)
}

/// How a child ended.
public enum ChildTermination: Sendable, Equatable, CustomStringConvertible {
    case exited(Int32)
    case signalled(Int32)

    public var description: String {
        switch self {
        case .exited(let status): return "exited with status \(status)"
        case .signalled(let signal): return "was killed by signal \(signal)"
        }
    }

    public var succeeded: Bool { self == .exited(0) }
}

/// A running child process. Killed (with its process group) when the object goes away unless it has been waited
/// for. Not thread-safe: one thread owns it.
///
/// The child gets SIGKILL when the *thread* that started it ends (PR_SET_PDEATHSIG's rule), so start children
/// from a thread that outlives them (the main thread, or the thread that also stops them).
public final class ChildProcess {
    public let program: String
    public let pid: pid_t
    private var ended: ChildTermination?

    /// Starts `executable` with `arguments` (bytes, so file names that are not UTF-8 pass unchanged) and the
    /// given descriptors as standard input, output and error (nil: /dev/null).
    public init(
        executable: String, arguments: [[UInt8]], stdin: Int32? = nil, stdout: Int32? = nil, stderr: Int32? = nil
    ) throws {
        program = (executable as NSString).lastPathComponent
        // argv as NUL-terminated copies, freed once the child has exec'd (spawn returns after that).
        let copies = ([Array(executable.utf8)] + arguments).map { bytes -> UnsafeMutablePointer<CChar> in
            let copy = UnsafeMutablePointer<CChar>.allocate(capacity: bytes.count + 1)
            copy.initialize(repeating: 0, count: bytes.count + 1)
            for (index, byte) in bytes.enumerated() { copy[index] = CChar(bitPattern: byte) }
            return copy
        }
        defer { copies.forEach { $0.deallocate() } }
        var argv: [UnsafeMutablePointer<CChar>?] = copies + [nil]
        let child = argv.withUnsafeMutableBufferPointer { buffer in
            clinux_spawn(executable, buffer.baseAddress!, stdin ?? -1, stdout ?? -1, stderr ?? -1)
        }
        guard child > 0 else { throw ChildProcessError.cannotStart(program: executable, errno: errno) }
        pid = child
    }

    /// `init` with String arguments.
    public convenience init(
        executable: String, arguments: [String], stdin: Int32? = nil, stdout: Int32? = nil, stderr: Int32? = nil
    ) throws {
        try self.init(
            executable: executable, arguments: arguments.map { Array($0.utf8) }, stdin: stdin, stdout: stdout,
            stderr: stderr)
    }

    deinit {
        kill()
    }

    /// Whether the child has not been reaped yet.
    public var isRunning: Bool { poll() == nil }

    /// The child's end, if it has ended (reaps it); nil while it runs.
    public func poll() -> ChildTermination? {
        if let ended { return ended }
        var status: Int32 = 0
        let result = waitpid(pid, &status, WNOHANG)
        guard result == pid else { return nil }
        ended = Self.termination(status)
        return ended
    }

    /// Waits up to `seconds` for the child to end; nil if it is still running then.
    public func wait(seconds: Double) -> ChildTermination? {
        let deadline = MonotonicClock.now() + seconds
        var pause = 0.001
        while true {
            if let ended = poll() { return ended }
            let left = deadline - MonotonicClock.now()
            if left <= 0 { return nil }
            usleep(useconds_t(min(pause, left) * 1_000_000))
            pause = min(pause * 2, 0.05)
        }
    }

    /// Kills the child's process group with SIGKILL and reaps the child; returns how it ended.
    @discardableResult
    public func kill() -> ChildTermination {
        if let ended { return ended }
        Glibc.kill(-pid, SIGKILL)
        Glibc.kill(pid, SIGKILL)
        var status: Int32 = 0
        while waitpid(pid, &status, 0) < 0 && errno == EINTR {}
        let result = Self.termination(status)
        ended = result
        return result
    }

    private static func termination(_ status: Int32) -> ChildTermination {
        // WIFEXITED / WEXITSTATUS / WTERMSIG are macros Swift cannot import.
        let signal = status & 0x7F
        return signal == 0 ? .exited((status >> 8) & 0xFF) : .signalled(signal)
    }

    /// Runs a short-lived program to completion within `timeLimit` seconds, collecting its standard output and
    /// error (each up to `outputLimit` bytes; more is read and dropped). Past the limit the program's group is
    /// killed and `timedOut` thrown, `what` saying what it was doing ("reading video.mp4").
    public static func run(
        _ executable: String, _ arguments: [[UInt8]], timeLimit: Double, what: String, outputLimit: Int = 1 << 20
    ) throws -> (termination: ChildTermination, output: String, error: String) {
        var outPipe: [Int32] = [-1, -1]
        var errPipe: [Int32] = [-1, -1]
        guard clinux_pipe_cloexec(&outPipe) == 0 else {
            throw ChildProcessError.cannotStart(program: executable, errno: errno)
        }
        guard clinux_pipe_cloexec(&errPipe) == 0 else {
            let code = errno
            close(outPipe[0])
            close(outPipe[1])
            throw ChildProcessError.cannotStart(program: executable, errno: code)
        }
        defer {
            close(outPipe[0])
            close(errPipe[0])
        }
        let child: ChildProcess
        do {
            child = try ChildProcess(
                executable: executable, arguments: arguments, stdout: outPipe[1], stderr: errPipe[1])
        } catch {
            close(outPipe[1])
            close(errPipe[1])
            throw error
        }
        close(outPipe[1])
        close(errPipe[1])

        var output: [UInt8] = []
        var errors: [UInt8] = []
        var open: [(fd: Int32, isOutput: Bool)] = [(outPipe[0], true), (errPipe[0], false)]
        let deadline = MonotonicClock.now() + timeLimit
        var buffer = [UInt8](repeating: 0, count: 1 << 16)
        while !open.isEmpty {
            let left = deadline - MonotonicClock.now()
            if left <= 0 {
                child.kill()
                throw ChildProcessError.timedOut(
                    program: (executable as NSString).lastPathComponent, seconds: timeLimit, what: what)
            }
            var entries = open.map { pollfd(fd: $0.fd, events: Int16(POLLIN), revents: 0) }
            let ready = Glibc.poll(&entries, nfds_t(entries.count), Int32((left * 1000).rounded(.up)))
            if ready < 0 && errno != EINTR {
                child.kill()
                throw ChildProcessError.cannotStart(program: executable, errno: errno)
            }
            var closed: [Int32] = []
            for (index, entry) in entries.enumerated() where entry.revents != 0 {
                let count = buffer.withUnsafeMutableBytes { read(entry.fd, $0.baseAddress, $0.count) }
                if count < 0 && (errno == EINTR || errno == EAGAIN) { continue }
                if count <= 0 {
                    closed.append(entry.fd)
                    continue
                }
                if open[index].isOutput {
                    if output.count < outputLimit { output += buffer[0..<min(count, outputLimit - output.count)] }
                } else if errors.count < outputLimit {
                    errors += buffer[0..<min(count, outputLimit - errors.count)]
                }
            }
            open.removeAll { closed.contains($0.fd) }
        }
        // Both pipes ended: the program (and anything it started) has closed them; it ends at once or is stopped.
        guard let termination = child.wait(seconds: max(0.5, deadline - MonotonicClock.now())) else {
            child.kill()
            throw ChildProcessError.timedOut(
                program: (executable as NSString).lastPathComponent, seconds: timeLimit, what: what)
        }
        return (termination, String(decoding: output, as: UTF8.self), String(decoding: errors, as: UTF8.self))
    }
}
