// Opens a frame source, reads frames and prints one JSON line per frame, for the Capture tests (which run it
// with a simulated camera preloaded) and for checking a real camera by hand.
//
//   capture-probe [--frames N] [--width W] [--height H] [--fps F] [--buffers N] [--timeout S] [--reconnect]
//                 [--fast] [--loop] [--queue CAPACITY --delay-ms D] [--save DIR] SOURCE
//
// --save writes each frame's pixels (packed BGR, no header) to DIR/frame-N.bgr, N counting from 0.
// Without --queue the source is read directly. With it, a capture thread pushes into a LatestFrameQueue and
// this thread pops, sleeping D ms per frame like a slow consumer; the last line gives the queue's counts.
// Errors go to standard error as "capture-probe: <description>" with exit status 1.
import Capture
import Foundation
import SafeFiles

struct Arguments {
    var spec = ""
    var frames = 10
    var options = CaptureOptions()
    var queueCapacity: Int?
    var delay = 0.0
    var saveFolder: String?
}

func fail(_ message: String) -> Never {
    StandardError.write("capture-probe: \(message)\n")
    exit(1)
}

func parseArguments() -> Arguments {
    var arguments = Arguments()
    var words = CommandLine.arguments.dropFirst()
    func value(_ flag: String) -> String {
        guard let word = words.popFirst() else { fail("\(flag) needs a value") }
        return word
    }
    func number(_ flag: String) -> Double {
        guard let number = Double(value(flag)) else { fail("\(flag) needs a number") }
        return number
    }
    while let word = words.popFirst() {
        switch word {
        case "--frames": arguments.frames = Int(number(word))
        case "--width": arguments.options.width = Int(number(word))
        case "--height": arguments.options.height = Int(number(word))
        case "--fps": arguments.options.fps = number(word)
        case "--buffers": arguments.options.bufferCount = Int(number(word))
        case "--timeout": arguments.options.frameTimeout = number(word)
        case "--reconnect": arguments.options.reconnect = true
        case "--fast": arguments.options.fast = true
        case "--loop": arguments.options.loop = true
        case "--queue": arguments.queueCapacity = Int(number(word))
        case "--delay-ms": arguments.delay = number(word) / 1000
        case "--save": arguments.saveFolder = value(word)
        default:
            guard !word.hasPrefix("--"), arguments.spec.isEmpty else { fail("unexpected argument \(word)") }
            arguments.spec = word
        }
    }
    if arguments.spec.isEmpty { fail("give a source: /dev/videoN, a file, a folder or synthetic") }
    arguments.options.log = { StandardError.write("note: \($0)\n") }
    return arguments
}

func emit(_ object: [String: Any]) {
    let data = try! JSONSerialization.data(withJSONObject: object, options: [.sortedKeys])
    FileHandle.standardOutput.write(data + Data("\n".utf8))
}

/// FNV-1a over the pixels, as hex.
func checksum(_ frame: Frame) -> String {
    var hash: UInt64 = 0xcbf2_9ce4_8422_2325
    for byte in frame.bgr {
        hash = (hash ^ UInt64(byte)) &* 0x100_0000_01b3
    }
    return String(hash, radix: 16)
}

func describe(_ frame: Frame, position: Int) -> [String: Any] {
    let counter = frame.bgr.prefix(8).enumerated().reduce(UInt64(0)) { $0 | UInt64($1.element) << (8 * $1.offset) }
    return [
        "frame": position, "index": frame.index, "width": frame.width, "height": frame.height,
        "counter": counter, "checksum": checksum(frame), "timestamp": frame.timestamp,
    ]
}

func header(name: String, format: SourceFormat, driverFormat: String? = nil) {
    var line: [String: Any] = ["source": name, "width": format.width, "height": format.height]
    if let fps = format.fps { line["fps"] = fps }
    if let driverFormat { line["driverFormat"] = driverFormat }
    emit(line)
}

func save(_ frame: Frame, position: Int) {
    guard let folder = arguments.saveFolder else { return }
    let path = "\(folder)/frame-\(position).bgr"
    guard FileManager.default.createFile(atPath: path, contents: Data(frame.bgr)) else { fail("cannot write \(path)") }
}

func readDirectly(_ arguments: Arguments) throws {
    let source = try FrameSources.open(arguments.spec, options: arguments.options)
    try source.start()
    header(name: source.name, format: source.format, driverFormat: (source as? CameraSource)?.driverFormat)
    var count = 0
    while count < arguments.frames, let frame = try source.nextFrame() {
        save(frame, position: count)
        emit(describe(frame, position: count))
        count += 1
    }
    var summary: [String: Any] = ["frames": count]
    if let camera = source as? CameraSource {
        summary["reconnections"] = camera.reconnections
        summary["droppedByDevice"] = camera.droppedByDevice
        summary["corruptFrames"] = camera.corruptFrames
    }
    source.stop()
    emit(summary)
}

func readThroughQueue(_ arguments: Arguments, capacity: Int) throws {
    let queue = LatestFrameQueue(capacity: capacity)
    let source = try FrameSources.open(arguments.spec, options: arguments.options)
    let runner = try CaptureRunner.start(source: source, queues: [queue])
    header(name: runner.name, format: runner.format)
    var count = 0
    var failure: (any Error)?
    do {
        while count < arguments.frames, let frame = try queue.pop() {
            save(frame, position: count)
            emit(describe(frame, position: count))
            count += 1
            Thread.sleep(forTimeInterval: arguments.delay)
        }
    } catch {
        failure = error
    }
    runner.stop()
    let counts = queue.stats
    let stats = runner.stats
    emit([
        "frames": count, "captured": stats.captured, "captureFps": stats.fps, "pushed": counts.pushed,
        "popped": counts.popped, "dropped": counts.dropped, "waiting": counts.waiting,
    ])
    if let failure { throw failure }
}

let arguments = parseArguments()
do {
    if let capacity = arguments.queueCapacity {
        try readThroughQueue(arguments, capacity: capacity)
    } else {
        try readDirectly(arguments)
    }
} catch {
    fail("\(error)")
}
