// A generated test signal: moving colour bars with the frame counter drawn on them, or a script of still
// frames each held for a duration. Frame content depends only on the frame index, so runs are repeatable.

/// One still frame of a scripted synthetic source and how long it is shown.
public struct Scene: Sendable {
    public var frame: Frame
    /// Seconds.
    public var duration: Double

    public init(frame: Frame, duration: Double) {
        self.frame = frame
        self.duration = duration
    }
}

/// Frames generated in memory: either the moving bar pattern or a script of scenes.
///
/// Frame k has timestamp k / fps. Paced at `fps` on the monotonic clock unless `fast`. The bar pattern never
/// ends; a script ends after its last scene, or starts over when `loop` is set. Each scene shows for
/// `max(1, round(duration * fps))` frames.
public final class SyntheticSource: FrameSource {
    public let stopSignal = StopSignal()
    public let format: SourceFormat
    public let name: String
    private let scenes: [Scene]
    private let sceneFrames: [Int]
    private let fast: Bool
    private let loop: Bool
    private var pacer: FramePacer
    private var index = 0

    /// The moving bar pattern at `width`×`height`.
    public init(width: Int = 640, height: Int = 480, fps: Double = 30, fast: Bool = false) {
        precondition(width >= 8 && height >= 8, "synthetic frames must be at least 8x8")
        precondition(fps > 0, "synthetic frame rate must be positive")
        format = SourceFormat(width: width, height: height, fps: fps)
        name = "synthetic \(format)"
        scenes = []
        sceneFrames = []
        self.fast = fast
        loop = true
        pacer = FramePacer(fps: fps)
    }

    /// A script of still frames, e.g. image A for 2 s then image B for 1 s.
    public init(scenes: [Scene], fps: Double = 30, fast: Bool = false, loop: Bool = false) throws {
        precondition(fps > 0, "synthetic frame rate must be positive")
        guard let first = scenes.first, scenes.allSatisfy({ $0.duration > 0 }) else { throw SourceError.emptyScript }
        format = SourceFormat(width: first.frame.width, height: first.frame.height, fps: fps)
        name = "synthetic script of \(scenes.count) scene(s) @ \(formatRate(fps)) fps"
        self.scenes = scenes
        sceneFrames = scenes.map { max(1, Int(($0.duration * fps).rounded())) }
        self.fast = fast
        self.loop = loop
        pacer = FramePacer(fps: fps)
    }

    public func start() throws {}

    public func stop() {}

    /// Frames one script pass delivers (nil for the endless bar pattern).
    public var scriptLength: Int? {
        scenes.isEmpty ? nil : sceneFrames.reduce(0, +)
    }

    public func nextFrame() throws -> Frame? {
        if stopSignal.isRaised { return nil }
        var frame: Frame
        if let length = scriptLength {
            guard loop || index < length else { return nil }
            var position = index % length
            var scene = 0
            while position >= sceneFrames[scene] {
                position -= sceneFrames[scene]
                scene += 1
            }
            frame = scenes[scene].frame
        } else {
            frame = SyntheticSource.pattern(index: index, width: format.width, height: format.height)
        }
        if !fast && !pacer.waitForNextFrame(stopSignal) { return nil }
        frame.index = index
        frame.timestamp = Double(index) / (format.fps ?? 30)
        index += 1
        return frame
    }

    /// Frame `index` of the bar pattern: eight colour bars sliding left 4 pixels per frame, the index as a
    /// little-endian UInt64 in the first 8 bytes, and the index in large digits at the top left.
    public static func pattern(index: Int, width: Int, height: Int) -> Frame {
        // White, yellow, cyan, green, magenta, red, blue, black — as (blue, green, red).
        let bars: [(UInt8, UInt8, UInt8)] = [
            (235, 235, 235), (16, 235, 235), (235, 235, 16), (16, 235, 16),
            (235, 16, 235), (16, 16, 235), (235, 16, 16), (16, 16, 16),
        ]
        let barWidth = max(1, width / bars.count)
        let shift = (index * 4) % (barWidth * bars.count)
        var row = [UInt8](repeating: 0, count: width * 3)
        for x in 0..<width {
            let bar = bars[((x + shift) / barWidth) % bars.count]
            row[3 * x] = bar.0
            row[3 * x + 1] = bar.1
            row[3 * x + 2] = bar.2
        }
        var pixels = [UInt8]()
        pixels.reserveCapacity(width * height * 3)
        for _ in 0..<height { pixels.append(contentsOf: row) }
        drawNumber(index, into: &pixels, width: width, height: height)
        let counter = UInt64(index)
        for byte in 0..<min(8, width * 3) { pixels[byte] = UInt8(truncatingIfNeeded: counter >> (8 * UInt64(byte))) }
        return Frame(index: index, timestamp: 0, width: width, height: height, bgr: pixels)
    }

    /// 3x5 bitmaps of the digits 0–9, one row per 3 bits, top row first.
    private static let digits: [[UInt8]] = [
        [7, 5, 5, 5, 7], [2, 6, 2, 2, 7], [7, 1, 7, 4, 7], [7, 1, 7, 1, 7], [5, 5, 7, 1, 1],
        [7, 4, 7, 1, 7], [7, 4, 7, 5, 7], [7, 1, 1, 1, 1], [7, 5, 7, 5, 7], [7, 5, 7, 1, 7],
    ]

    /// Draws `number` in black digits on a white box, 4 px per bitmap cell, from row 2 down.
    private static func drawNumber(_ number: Int, into pixels: inout [UInt8], width: Int, height: Int) {
        let text = Array(String(number).utf8).map { Int($0) - 48 }
        let cell = 4
        let boxWidth = min(width, (text.count * 4 + 1) * cell)
        let boxHeight = min(height - 2, 7 * cell)
        for y in 2..<(2 + boxHeight) {
            for x in 0..<boxWidth {
                let gx = x / cell - 1
                let gy = (y - 2) / cell - 1
                var ink = false
                if gx >= 0, gy >= 0, gy < 5, gx % 4 < 3, gx / 4 < text.count {
                    ink = digits[text[gx / 4]][gy] >> (2 - gx % 4) & 1 == 1
                }
                let value: UInt8 = ink ? 0 : 255
                let offset = (y * width + x) * 3
                pixels[offset] = value
                pixels[offset + 1] = value
                pixels[offset + 2] = value
            }
        }
    }
}
