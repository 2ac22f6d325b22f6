import CSDL2

/// Failures of SDL2 and SDL2_image calls. Each case carries the text of `SDL_GetError()` at the time of failure.
public enum SDLError: Error, CustomStringConvertible {
    /// An SDL function returned an error code or a null pointer.
    case callFailed(call: String, message: String)
    /// SDL was already running with another video driver than the one asked for.
    case videoDriverMismatch(requested: String, active: String)
    /// `IMG_SavePNG` could not write the file.
    case pngWriteFailed(path: String, message: String)
    /// `IMG_Load` could not read the file.
    case imageLoadFailed(path: String, message: String)

    /// The error of the SDL call that just failed, with SDL's own explanation.
    static func lastError(_ call: String) -> SDLError {
        .callFailed(call: call, message: currentMessage())
    }

    /// The text of `SDL_GetError()`: why the last SDL call that failed did.
    public static func currentMessage() -> String {
        guard let text = SDL_GetError() else { return "(no message from SDL)" }
        let message = String(cString: text)
        return message.isEmpty ? "(no message from SDL)" : message
    }

    public var description: String {
        switch self {
        case .callFailed(let call, let message):
            return "\(call) failed: \(message)"
        case .videoDriverMismatch(let requested, let active):
            return "SDL video driver '\(requested)' was requested but SDL is already running with '\(active)'; "
                + "close every window of the other driver first"
        case .pngWriteFailed(let path, let message):
            return "cannot write PNG \(path): \(message); check that the folder exists and is writable"
        case .imageLoadFailed(let path, let message):
            return "cannot load image \(path): \(message)"
        }
    }
}
