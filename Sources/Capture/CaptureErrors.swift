import Glibc

/// Failures of a V4L2 camera. Each names the device and says what to do.
public enum CameraError: Error, CustomStringConvertible, Equatable {
    case missing(device: String, available: [String])
    case busy(device: String)
    /// The node exists and is a video4linux character device (`number`, "81:0"), but opening it fails with ENXIO
    /// or ENODEV: no driver or device answers on it.
    case noDriver(device: String, number: String)
    case permissionDenied(device: String)
    case openFailed(device: String, errno: Int32)
    case notCaptureDevice(device: String, card: String)
    case noStreaming(device: String, card: String)
    /// The driver would not deliver BGR24 even through libv4l2's conversion; `offered` are its fourccs.
    case noUsableFormat(device: String, granted: String, offered: [String])
    case ioctlFailed(device: String, ioctl: String, errno: Int32)
    case mmapFailed(device: String, buffer: Int, errno: Int32)
    case tooFewBuffers(device: String, granted: Int)
    /// The device went away while streaming: DQBUF or QBUF failed and the node no longer answers QUERYCAP.
    case unplugged(device: String)
    case timeout(device: String, seconds: Double)
    /// `what` exists but is no V4L2 device node, e.g. "a character device (1:3; …)" for /dev/null.
    case notV4L2Device(device: String, what: String)
    /// A UVC camera's metadata node; `captureNode` is the same camera's video node when one was found.
    case metadataNode(device: String, card: String, captureNode: String?)
    /// The camera streams and still answers, but libv4lconvert cannot turn its `format` frames (e.g. "MJPG") of
    /// `width`×`height` into BGR24; `reason` is libv4lconvert's own message when it gave one, `offered` the
    /// camera's formats, sizes and rates in words.
    case undecodableFrames(
        device: String, card: String, format: String, width: Int, height: Int, reason: String?, offered: String)
    /// DQBUF or QBUF failed with `errno` (not a conversion) while the device still answers QUERYCAP.
    case streamFailed(device: String, errno: Int32)
    /// No node under /dev/video* is a video capture device; `skipped` describes the nodes that exist.
    case noCamera(skipped: [String])
    /// With --reconnect: the camera was reopened `attempts` times in a row without delivering a frame.
    indirect case gaveUp(attempts: Int, last: CameraError)

    public var description: String {
        switch self {
        case .missing(let device, let available):
            let list =
                available.isEmpty
                ? "no video devices exist under /dev/video*"
                : "devices present: "
                    + available.joined(separator: ", ")
            return "\(device) does not exist (\(list)); plug in a camera or pass --source with another device"
        case .noDriver(let device, let number):
            return "\(device) is a video4linux character device (\(number)), but no device or driver answers on it "
                + "(the camera is unplugged, or its driver is not loaded); plug in the camera, or give another "
                + "device (`clipcam cameras` lists them)"
        case .busy(let device):
            return "\(device) is busy: another program is using the camera; close it (see `fuser \(device)`) "
                + "and try again"
        case .permissionDenied(let device):
            return "no permission to open \(device); add your user to the 'video' group (sudo usermod -aG video "
                + "$USER) and log in again"
        case .openFailed(let device, let code):
            return "cannot open \(device): \(errnoText(code))"
        case .notCaptureDevice(let device, let card):
            return "\(device) (\(card)) is not a video capture device; choose another /dev/video* (a camera "
                + "often exposes a second node for metadata)"
        case .noStreaming(let device, let card):
            return "\(device) (\(card)) does not support streaming I/O, which clipcam needs; use another device"
        case .noUsableFormat(let device, let granted, let offered):
            let list = offered.isEmpty ? "none listed" : offered.joined(separator: ", ")
            return "\(device) cannot deliver BGR24 frames, even through libv4l2 conversion (driver granted "
                + "\(granted); formats offered: \(list)); use another camera or convert with a video file source"
        case .ioctlFailed(let device, let ioctl, let code):
            return "\(ioctl) failed on \(device): \(errnoText(code)) (errno \(code))"
        case .mmapFailed(let device, let buffer, let code):
            return "cannot map buffer \(buffer) of \(device): \(errnoText(code))"
        case .tooFewBuffers(let device, let granted):
            return "\(device) granted only \(granted) capture buffer(s), at least 2 are needed; close other "
                + "programs using the camera or ask for more with a larger buffer count"
        case .unplugged(let device):
            return "\(device) was unplugged or stopped responding while streaming; reconnect it and restart, or "
                + "run with --reconnect to wait for it"
        case .timeout(let device, let seconds):
            return "no frame from \(device) for \(seconds) s; check that the camera is not covered by a privacy "
                + "switch and is not in use elsewhere"
        case .notV4L2Device(let device, let what):
            return "\(device) is \(what) but not a V4L2 camera; give a camera's /dev/videoN (`clipcam cameras` "
                + "lists them), a video or image file, a folder of images, or synthetic"
        case .metadataNode(let device, let card, let captureNode):
            let instead =
                captureNode.map { "use \($0), the same camera's video node" }
                ?? "use the camera's video node (`clipcam cameras` lists them)"
            return "\(device) (\(card)) is a metadata node, not a video capture device: UVC cameras create one "
                + "beside their video node; \(instead)"
        case .undecodableFrames(let device, let card, let format, let width, let height, let reason, let offered):
            let why = reason.map { " (\($0))" } ?? ""
            let offers = offered.isEmpty ? "" : " (it offers \(offered))"
            return "\(device) (\(card)) sends \(format) frames of \(width)x\(height) that libv4lconvert cannot "
                + "decode\(why); the camera still answers, so it was not unplugged. Ask for another --size or "
                + "--fps so that it sends another format or size\(offers), or use another camera"
        case .streamFailed(let device, let code):
            return "\(device) failed while streaming (\(errnoText(code)), errno \(code)) but still answers; unplug "
                + "and replug it, or ask for another --size or --fps"
        case .noCamera(let skipped):
            let found =
                skipped.isEmpty
                ? "no /dev/video* device exists" : "none of " + skipped.joined(separator: ", ") + " captures video"
            return "no V4L2 capture device found (\(found)); plug in a camera (and check that you may open it: the "
                + "'video' group), or give --source synthetic, a video file, an image or a folder of images"
        case .gaveUp(let attempts, let last):
            return "\(last.description) — reopened \(attempts) times without a frame, so clipcam gives up"
        }
    }
}

/// Failures of file, folder, synthetic and spec-selected sources. Each names the file or spec at fault.
public enum SourceError: Error, CustomStringConvertible, Equatable {
    case notFound(path: String)
    case unrecognised(spec: String, reason: String)
    case invalidSyntheticSpec(spec: String)
    case syntheticOutOfRange(spec: String, what: String, requirement: String)
    /// A path that is a FIFO, socket or block device: neither a file, a folder nor a camera.
    case notAFile(path: String, kind: String)
    case invalidFrameRate(Double)
    case toolMissing(tool: String)
    case videoUnreadable(path: String, reason: String)
    case videoFailed(path: String, reason: String)
    case emptyFolder(path: String)
    case unreadableFolder(path: String, errno: Int32)
    case emptyScript

    public var description: String {
        switch self {
        case .notFound(let path):
            return "\(path) does not exist; give a camera (/dev/videoN), a video or image file, a folder of "
                + "images or 'synthetic'"
        case .unrecognised(let spec, let reason):
            return "cannot tell what kind of source '\(spec)' is (\(reason)); give a camera (/dev/videoN), a "
                + "video or image file, a folder of images or 'synthetic[:WxH@FPS]'"
        case .invalidSyntheticSpec(let spec):
            return "'\(spec)' is not a synthetic source; write 'synthetic', 'synthetic:640x480' or "
                + "'synthetic:640x480@30'"
        case .syntheticOutOfRange(let spec, let what, let requirement):
            return "'\(spec)': the \(what) is out of range (\(requirement))"
        case .notAFile(let path, let kind):
            // Say why of what is there: a disk is not a stream.
            let why =
                kind.hasPrefix("a block device")
                ? "a block device is a disk or partition, not a video: copy the video to a file first"
                : "clipcam does not read video from pipes or sockets: save the stream to a file first"
            return "\(path) is \(kind); give a camera (/dev/videoN), a video or image file, a folder of images or "
                + "'synthetic' (\(why))"
        case .invalidFrameRate(let fps):
            return "frame rate \(fps) is not usable; give a positive number of frames per second"
        case .toolMissing(let tool):
            return "\(tool) is not installed (not found on PATH); install it with `sudo apt-get install ffmpeg`"
        case .videoUnreadable(let path, let reason):
            return "cannot read video \(path): \(reason)"
        case .videoFailed(let path, let reason):
            return "decoding \(path) failed: \(reason)"
        case .emptyFolder(let path):
            return "\(path) holds no image files (.png, .jpg, .jpeg, .bmp, …)"
        case .unreadableFolder(let path, let code):
            return "cannot list \(path): \(errnoText(code))"
        case .emptyScript:
            return "a scripted synthetic source needs at least one scene with a positive duration"
        }
    }
}
