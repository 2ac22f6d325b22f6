import Glibc

/// Messages to standard error that never stop clipcam: Foundation's `FileHandle.standardError.write` traps when the
/// stream is closed, full or a pipe whose reader has gone (`2>&-`, `2>/dev/full`, `2>&1 | head -1`); a message that
/// cannot be shown is dropped instead.
public enum StandardError {
    public static func write(_ text: String) {
        var bytes = Array(text.utf8)
        var offset = 0
        while offset < bytes.count {
            let written = bytes.withUnsafeMutableBytes { raw in
                Glibc.write(STDERR_FILENO, raw.baseAddress! + offset, raw.count - offset)
            }
            if written < 0 && errno == EINTR { continue }
            guard written > 0 else { return }
            offset += written
        }
    }
}
