// libv4l2's own messages, kept for the camera source's errors.
import CV4L2
import Glibc

/// libv4l2 writes its warnings and errors to its log stream, `v4l2_log_file`, or to standard error while that is
/// unset: a failed conversion then shows up as a stray "libv4l2: error …" line clipcam cannot attach to its own
/// message, and the reason a frame would not decode ("Not a JPEG file") as nothing at all. So clipcam points the
/// stream at a fixed buffer in memory, and the camera source quotes libv4lconvert's reason from it. libv4l2 then
/// also writes a line or two per ioctl there; the camera source empties the buffer after every frame, and a full
/// buffer simply takes no more.
///
/// Only the thread that runs the camera calls libv4l2 (and so writes here), and only it reads and empties the
/// buffer. Nothing is changed when libv4l2 already has a log stream, e.g. from `LIBV4L2_LOG_FILENAME`.
final class LibV4L2Messages: @unchecked Sendable {
    static let shared = LibV4L2Messages()

    private static let capacity = 64 * 1024
    private let buffer: UnsafeMutablePointer<CChar>?
    private let file: UnsafeMutablePointer<FILE>?

    private init() {
        guard getenv("LIBV4L2_LOG_FILENAME") == nil, clipcam_v4l2_log_file() == nil else {
            buffer = nil
            file = nil
            return
        }
        let memory = UnsafeMutablePointer<CChar>.allocate(capacity: Self.capacity)
        memory.initialize(repeating: 0, count: Self.capacity)
        guard let stream = fmemopen(memory, Self.capacity, "w") else {
            memory.deallocate()
            buffer = nil
            file = nil
            return
        }
        setvbuf(stream, nil, _IONBF, 0)
        buffer = memory
        file = stream
        clipcam_set_v4l2_log_file(stream)
    }

    /// Forgets what was written so far.
    func clear() {
        guard let file else { return }
        rewind(file)
    }

    /// What libv4l2 wrote since the last `clear()`.
    func text() -> String {
        guard let file, let buffer else { return "" }
        fflush(file)
        let length = min(max(ftell(file), 0), Self.capacity)
        return String(decoding: UnsafeRawBufferPointer(start: buffer, count: length), as: UTF8.self)
    }

    /// libv4lconvert's reason for the last frame it could not convert, e.g. "unexpected width / height in JPEG
    /// header: expected: 640x480, header: 320x240"; nil when it gave none. Only libv4lconvert's own errors count:
    /// the "libjpeg error" it records is libjpeg's last warning or trace line, not the fatal error (which it does
    /// not record), so it would name the wrong thing.
    func conversionFailure() -> String? {
        let marker = "v4l-convert: error "
        for line in text().split(separator: "\n").reversed() {
            guard let found = line.firstRange(of: marker) else { continue }
            let reason = line[found.upperBound...].trimmingSpaces()
            if !reason.isEmpty { return reason }
        }
        return nil
    }
}

extension Substring {
    fileprivate func trimmingSpaces() -> String {
        var text = self
        while let last = text.last, last == " " || last == "\n" || last == "\r" { text.removeLast() }
        while let first = text.first, first == " " { text.removeFirst() }
        return String(text)
    }
}
