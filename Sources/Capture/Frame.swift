/// One captured video frame: tightly packed BGR24 pixels, row after row.
public struct Frame: Sendable {
    /// Position of the frame in its source, counted from 0.
    public var index: Int
    /// Seconds since the source started, on a monotonic clock.
    public var timestamp: Double
    public var width: Int
    public var height: Int
    /// `width * height * 3` bytes, blue, green, red.
    public var bgr: [UInt8]

    public init(index: Int, timestamp: Double, width: Int, height: Int, bgr: [UInt8]) {
        precondition(bgr.count == width * height * 3, "BGR buffer size does not match \(width)x\(height)")
        self.index = index
        self.timestamp = timestamp
        self.width = width
        self.height = height
        self.bgr = bgr
    }
}
