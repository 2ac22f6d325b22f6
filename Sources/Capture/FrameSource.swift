/// What a source actually delivers, as granted by the device or read from the file.
public struct SourceFormat: Sendable, Equatable, CustomStringConvertible {
    public var width: Int
    public var height: Int
    /// Frames per second; nil when the device does not say.
    public var fps: Double?

    public init(width: Int, height: Int, fps: Double?) {
        self.width = width
        self.height = height
        self.fps = fps
    }

    public var description: String {
        let rate = fps.map { "\(formatRate($0)) fps" } ?? "unknown fps"
        return "\(width)x\(height) @ \(rate)"
    }
}

/// A rate with at most two decimals and no trailing zeros: 30, 29.97, 7.5.
func formatRate(_ fps: Double) -> String {
    let hundredths = Int((fps * 100).rounded())
    if hundredths % 100 == 0 { return "\(hundredths / 100)" }
    if hundredths % 10 == 0 { return "\(hundredths / 100).\(hundredths % 100 / 10)" }
    return "\(hundredths / 100).\(String(format2: hundredths % 100))"
}

extension String {
    fileprivate init(format2 value: Int) {
        self = value < 10 ? "0\(value)" : "\(value)"
    }
}

/// A producer of frames, pulled by one thread.
///
/// Life cycle: `start()` opens the device/file/process and fixes `format`; `nextFrame()` blocks until the next
/// frame is ready and returns it, or returns nil at the end of the stream or once `stopSignal` is raised;
/// `stop()` releases everything (idempotent; `deinit` does it too). All three run on the thread that owns the
/// source. The only thing another thread may touch is `stopSignal`: raising it makes a blocked `nextFrame()`
/// return nil promptly, which is how a consumer ends a capture thread.
public protocol FrameSource: AnyObject {
    /// A human name, e.g. "camera /dev/video0 (HD Webcam)".
    var name: String { get }
    /// The delivered size and rate; meaningful after `start()`.
    var format: SourceFormat { get }
    /// Raised from any thread to end the stream.
    var stopSignal: StopSignal { get }

    func start() throws
    func nextFrame() throws -> Frame?
    func stop()
}

/// How to open a source. Sizes and rates are requests; what was granted is in `FrameSource.format`.
public struct CaptureOptions: Sendable {
    /// Requested camera size; the size of synthetic frames unless the spec names one.
    public var width: Int
    public var height: Int
    /// Requested camera rate, the rate of image and synthetic sources. nil: the camera's current rate, 30 for
    /// single images and synthetic patterns, 1 for image folders. Video files play at their own rate.
    public var fps: Double?
    /// Files and synthetic patterns: deliver frames as fast as they are pulled instead of at their rate.
    public var fast: Bool
    /// Images and videos: start again at the end instead of ending the stream.
    public var loop: Bool
    /// Camera: when the device disappears, wait for it to return and resume instead of failing.
    public var reconnect: Bool
    /// Camera: memory-mapped buffers requested from the driver.
    public var bufferCount: Int
    /// Camera: seconds without a frame before giving up.
    public var frameTimeout: Double
    /// Receives notices about recoverable events (a camera unplugged and back, a skipped corrupt frame).
    public var log: (@Sendable (String) -> Void)?

    public init(
        width: Int = 640, height: Int = 480, fps: Double? = nil, fast: Bool = false, loop: Bool = false,
        reconnect: Bool = false, bufferCount: Int = 4, frameTimeout: Double = 10,
        log: (@Sendable (String) -> Void)? = nil
    ) {
        self.width = width
        self.height = height
        self.fps = fps
        self.fast = fast
        self.loop = loop
        self.reconnect = reconnect
        self.bufferCount = bufferCount
        self.frameTimeout = frameTimeout
        self.log = log
    }
}

/// The frame sizes and rates clipcam accepts from options and specs, so that no number given can make it allocate
/// gigabytes per frame or wait for ever between frames.
public enum FrameLimits {
    /// Pixels on a side.
    public static let side = 16...8192
    /// Pixels in all: 8K UHD (7680×4320), 100 MB of BGR.
    public static let maxPixels = 7680 * 4320
    /// Frames per second: from one every 10 s to 1000 a second.
    public static let fps = 0.1...1000.0

    /// Why `width`×`height` is not accepted, or nil when it is.
    public static func sizeProblem(width: Int, height: Int) -> String? {
        guard side.contains(width), side.contains(height) else {
            return "each side must be \(side.lowerBound)–\(side.upperBound) pixels"
        }
        guard width * height <= maxPixels else { return "at most 7680x4320 pixels in all (8K UHD)" }
        return nil
    }

    /// "WxH" (or "WXH") as two whole numbers, nil when the text is not of that form. A side too large for an `Int`
    /// becomes `Int.max` (too small, `Int.min`), so that `sizeProblem` says it is out of range: a number is a
    /// number however many digits it has.
    public static func parseSize(_ text: some StringProtocol) -> (width: Int, height: Int)? {
        let parts = text.split(omittingEmptySubsequences: false) { $0 == "x" || $0 == "X" }
        guard parts.count == 2, let width = wholeNumber(parts[0]), let height = wholeNumber(parts[1]) else {
            return nil
        }
        return (width, height)
    }

    /// A whole number in decimal digits with an optional sign, clamped to `Int`'s range; nil when the text is not
    /// one.
    public static func wholeNumber(_ text: some StringProtocol) -> Int? {
        if let value = Int(text) { return value }
        let text = Substring(text)
        let digits = text.first == "-" || text.first == "+" ? text.dropFirst() : text
        guard !digits.isEmpty, digits.allSatisfy({ $0.isASCII && $0.isNumber }) else { return nil }
        return text.first == "-" ? Int.min : Int.max
    }
}
