// The V4L2 device nodes present and what each offers: for `clipcam cameras`, for the default camera of
// `clipcam run`, and for the camera source's messages. Formats, sizes and rates are asked of the driver itself
// (ENUM_FMT, ENUM_FRAMESIZES, ENUM_FRAMEINTERVALS past libv4l2), so they are what the camera really sends; libv4l2
// converts any of them to the BGR24 clipcam reads.
import CV4L2
import Glibc
import SafeFiles

/// A video capture node: its names and the formats the camera sends.
public struct CameraNode: Sendable, Equatable, Encodable {
    /// The node, e.g. "/dev/video0".
    public var device: String
    /// The camera's name from QUERYCAP, e.g. "HD Webcam C525".
    public var card: String
    /// The driver, e.g. "uvcvideo".
    public var driver: String
    /// Where the camera is attached, e.g. "usb-0000:00:14.0-1" (shared by the nodes of one camera).
    public var bus: String
    /// What the camera sends, in the driver's order.
    public var formats: [CameraFormat]
}

/// One pixel format a camera sends, with its frame sizes.
public struct CameraFormat: Sendable, Equatable, Encodable {
    /// The fourcc, e.g. "MJPG" or "YUYV".
    public var fourcc: String
    /// The driver's description, e.g. "Motion-JPEG".
    public var description: String
    /// Compressed frames (MJPEG, H.264, …), which libv4lconvert must decode.
    public var compressed: Bool
    public var sizes: [CameraFrameSize]
}

/// A frame size a camera sends, with its frame rates.
public struct CameraFrameSize: Sendable, Equatable, Encodable {
    /// Pixels; the smallest size of a range when `maxWidth` is set.
    public var width: Int
    public var height: Int
    /// For a driver that takes any size in a range (stepwise or continuous): the largest size; nil otherwise.
    public var maxWidth: Int?
    public var maxHeight: Int?
    /// Frames per second in the driver's order; the two ends of a range when `fpsRange` is true.
    public var fps: [Double]
    public var fpsRange: Bool
}

/// A node under /dev/video* that is not listed as a camera, and why.
public struct SkippedNode: Sendable, Equatable, Encodable {
    public var device: String
    /// E.g. "metadata node of HD Webcam C525", "cannot open it: …".
    public var reason: String
}

/// Every /dev/video* node: the capture devices, and the rest with the reason each is skipped.
public struct CameraListing: Sendable, Equatable, Encodable {
    public var cameras: [CameraNode]
    public var skipped: [SkippedNode]
}

/// Finds and describes V4L2 cameras.
public enum CameraDevices {
    /// Every /dev/video* node in natural order (video2 before video10): capture devices with their formats,
    /// sizes and rates; metadata, output and unopenable nodes as skipped. Opens each node for a moment (never
    /// streams), non-blocking.
    public static func list() -> CameraListing {
        var listing = CameraListing(cameras: [], skipped: [])
        for path in V4L2Device.present() {
            switch inspect(path, withFormats: true) {
            case .camera(let node): listing.cameras.append(node)
            case .skipped(let skipped): listing.skipped.append(skipped)
            }
        }
        return listing
    }

    /// The first video capture node in natural order, for `clipcam run` without `--source`. Throws
    /// `CameraError.noCamera` naming what was found instead when there is none.
    public static func firstCapture() throws -> String {
        var skipped: [String] = []
        for path in V4L2Device.present() {
            switch inspect(path, withFormats: false) {
            case .camera(let node): return node.device
            case .skipped(let node): skipped.append("\(node.device) (\(node.reason))")
            }
        }
        throw CameraError.noCamera(skipped: skipped)
    }

    /// The source `clipcam run` reads for `--source spec`: the first camera (`firstCapture`) when there is no
    /// spec. A character device that is not a video4linux device (/dev/null, /dev/tty) is refused here already,
    /// before anything else is loaded, with the error the camera source would give (`notV4L2Device`).
    public static func runSource(_ spec: String?) throws -> String {
        guard let spec else { return try firstCapture() }
        if FileKind.of(SystemPath(spec)) == .characterDevice, let refusal = V4L2Device.refusal(spec) { throw refusal }
        return spec
    }

    /// The video capture node of the camera attached at `bus`, other than `path`: a UVC camera's video node
    /// beside its metadata node.
    static func captureNode(besides path: String, bus: String) -> String? {
        guard !bus.isEmpty else { return nil }
        for other in V4L2Device.present() where other != path {
            guard let device = try? V4L2Device(path: other), let capability = try? device.capability() else {
                continue
            }
            if capability.bus == bus && capability.isVideoCapture { return other }
        }
        return nil
    }

    private enum Inspection {
        case camera(CameraNode)
        case skipped(SkippedNode)
    }

    private static func inspect(_ path: String, withFormats: Bool) -> Inspection {
        let device: V4L2Device
        let capability: V4L2Capability
        do {
            device = try V4L2Device(path: path)
            capability = try device.capability()
        } catch CameraError.permissionDenied {
            return .skipped(SkippedNode(device: path, reason: "cannot open it: no permission (the 'video' group)"))
        } catch CameraError.notV4L2Device {
            return .skipped(SkippedNode(device: path, reason: "not a V4L2 device"))
        } catch {
            return .skipped(SkippedNode(device: path, reason: "cannot open it: \(error)"))
        }
        guard capability.isVideoCapture else {
            let what = capability.isMetadata ? "metadata node" : "not a video capture device"
            return .skipped(SkippedNode(device: path, reason: "\(what) of \(capability.card)"))
        }
        return .camera(
            CameraNode(
                device: path, card: capability.card, driver: capability.driver, bus: capability.bus,
                formats: withFormats ? formats(of: device) : []))
    }

    /// The formats the driver itself offers for video capture, each with its sizes and rates (empty when the
    /// driver does not answer ENUM_FMT).
    static func formats(of device: V4L2Device) -> [CameraFormat] {
        var formats: [CameraFormat] = []
        for index in 0..<64 {
            var description = v4l2_fmtdesc()
            description.index = UInt32(index)
            description.type = bufferTypeCapture
            guard (try? device.driverIoctl(.enumerateFormat, &description)) != nil else { break }
            let code = description.pixelformat
            formats.append(
                CameraFormat(
                    fourcc: fourccText(code), description: cString(description.description),
                    compressed: description.flags & UInt32(V4L2_FMT_FLAG_COMPRESSED) != 0,
                    sizes: sizes(of: device, format: code)))
        }
        return formats
    }

    private static func sizes(of device: V4L2Device, format: UInt32) -> [CameraFrameSize] {
        var sizes: [CameraFrameSize] = []
        for index in 0..<256 {
            var size = v4l2_frmsizeenum()
            size.index = UInt32(index)
            size.pixel_format = format
            guard (try? device.driverIoctl(.enumerateFrameSizes, &size)) != nil else { break }
            if size.type == UInt32(V4L2_FRMSIZE_TYPE_DISCRETE.rawValue) {
                let width = Int(size.discrete.width)
                let height = Int(size.discrete.height)
                let (fps, range) = rates(of: device, format: format, width: width, height: height)
                sizes.append(
                    CameraFrameSize(
                        width: width, height: height, maxWidth: nil, maxHeight: nil, fps: fps, fpsRange: range))
            } else {
                // A range (the driver gives it at index 0 only): its rates at the largest size.
                let range = size.stepwise
                let (fps, isRange) = rates(
                    of: device, format: format, width: Int(range.max_width), height: Int(range.max_height))
                sizes.append(
                    CameraFrameSize(
                        width: Int(range.min_width), height: Int(range.min_height), maxWidth: Int(range.max_width),
                        maxHeight: Int(range.max_height), fps: fps, fpsRange: isRange))
                break
            }
        }
        return sizes
    }

    private static func rates(of device: V4L2Device, format: UInt32, width: Int, height: Int) -> ([Double], Bool) {
        var rates: [Double] = []
        for index in 0..<64 {
            var interval = v4l2_frmivalenum()
            interval.index = UInt32(index)
            interval.pixel_format = format
            interval.width = UInt32(width)
            interval.height = UInt32(height)
            guard (try? device.driverIoctl(.enumerateFrameIntervals, &interval)) != nil else { break }
            if interval.type == UInt32(V4L2_FRMIVAL_TYPE_DISCRETE.rawValue) {
                if let fps = rate(interval.discrete) { rates.append(fps) }
            } else {
                // A range of intervals: the fastest rate is the shortest interval.
                let fastest = rate(interval.stepwise.min)
                let slowest = rate(interval.stepwise.max)
                return ([fastest, slowest].compactMap { $0 }, true)
            }
        }
        return (rates, false)
    }

    private static func rate(_ interval: v4l2_fract) -> Double? {
        guard interval.numerator > 0, interval.denominator > 0 else { return nil }
        return Double(interval.denominator) / Double(interval.numerator)
    }

    /// Formats in words, e.g. "MJPG 1280x720, 640x480 @ 30, 15 fps; YUYV 640x480 @ 30 fps" (sizes that share
    /// their rates are listed together).
    public static func describe(_ formats: [CameraFormat]) -> String {
        formats.map { format in
            var groups: [(sizes: [String], rates: String)] = []
            for size in format.sizes {
                let rates = describeRates(size)
                if let last = groups.last, last.rates == rates {
                    groups[groups.count - 1].sizes.append(describeSize(size))
                } else {
                    groups.append(([describeSize(size)], rates))
                }
            }
            let sizes = groups.map { $0.sizes.joined(separator: ", ") + ($0.rates.isEmpty ? "" : " @ \($0.rates)") }
            return ([format.fourcc] + [sizes.joined(separator: ", ")]).filter { !$0.isEmpty }.joined(separator: " ")
        }.joined(separator: "; ")
    }

    /// "640x480", or "160x120 to 1920x1080" for a range.
    public static func describeSize(_ size: CameraFrameSize) -> String {
        let smallest = "\(size.width)x\(size.height)"
        guard let maxWidth = size.maxWidth, let maxHeight = size.maxHeight else { return smallest }
        return "\(smallest) to \(maxWidth)x\(maxHeight)"
    }

    /// "30, 15 fps", "5 to 30 fps" for a range, "" when the driver names none.
    public static func describeRates(_ size: CameraFrameSize) -> String {
        guard !size.fps.isEmpty else { return "" }
        let rates = size.fps.map(formatRate)
        if size.fpsRange && rates.count == 2 { return "\(rates[1]) to \(rates[0]) fps" }
        return rates.joined(separator: ", ") + " fps"
    }
}
