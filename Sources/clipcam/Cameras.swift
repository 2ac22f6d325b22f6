import ArgumentParser
import Capture
import Foundation

struct Cameras: ParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "List the cameras (V4L2 capture devices) with the formats, sizes and rates each one sends.",
        discussion: """
            Lists every /dev/video* node that captures video, in order (the first is what `clipcam run` uses \
            without --source): its name, driver and bus, and for each format the camera itself sends (not the ones \
            libv4l2 emulates) its frame sizes and rates. clipcam reads any of them: libv4l2 converts YUYV, MJPEG and \
            the rest to BGR24; --size and --fps of `clipcam run` choose among these. Nodes that capture no video \
            (the metadata node a UVC camera creates beside its video node, output devices) are named as skipped. \
            Exits with status 1 when there is no camera.
            """
    )

    @Flag(
        help: ArgumentHelp(
            "Print JSON.",
            discussion: "{\"cameras\": [{device, card, driver, bus, formats: [{fourcc, description, compressed, "
                + "sizes: [{width, height, fps}]}]}], \"skipped\": [{device, reason}]}"))
    var json = false

    func run() throws {
        let listing = CameraDevices.list()
        if json {
            let encoder = JSONEncoder()
            encoder.outputFormatting = [.sortedKeys, .withoutEscapingSlashes]
            print(String(decoding: try encoder.encode(listing), as: UTF8.self))
        } else {
            print(Cameras.text(listing), terminator: "")
        }
        if listing.cameras.isEmpty {
            printError("error: \(CameraError.noCamera(skipped: listing.skipped.map { "\($0.device) (\($0.reason))" }))")
            throw ExitCode.failure
        }
    }

    /// The listing in words, one camera after another, each format on a line of its own.
    static func text(_ listing: CameraListing) -> String {
        var lines: [String] = []
        for camera in listing.cameras {
            lines.append("\(camera.device): \(camera.card) (\(camera.driver), \(camera.bus))")
            if camera.formats.isEmpty { lines.append("    (the driver lists no formats)") }
            for format in camera.formats {
                let kind = format.compressed ? ", compressed" : ""
                let sizes = format.sizes.map { size in
                    let rates = CameraDevices.describeRates(size)
                    return CameraDevices.describeSize(size) + (rates.isEmpty ? "" : " @ \(rates)")
                }
                lines.append("    \(format.fourcc) (\(format.description)\(kind)): \(sizes.joined(separator: "; "))")
            }
        }
        if !listing.skipped.isEmpty {
            let count = listing.skipped.count
            lines.append("skipped \(count) node\(count == 1 ? "" : "s") that capture\(count == 1 ? "s" : "") no video:")
            for node in listing.skipped { lines.append("    \(node.device): \(node.reason)") }
        }
        return lines.map { $0 + "\n" }.joined()
    }
}
