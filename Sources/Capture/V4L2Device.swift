// Follows the V4L2 streaming-capture sequence of the Linux media documentation ("Streaming I/O (Memory
// Mapping)" and its capture example): open, QUERYCAP, S_FMT/G_FMT, S_PARM/G_PARM, REQBUFS, QUERYBUF + mmap,
// QBUF, STREAMON, poll + DQBUF/QBUF, STREAMOFF. Every streaming call goes through libv4l2 so that cameras that only
// offer YUYV or MJPEG still deliver BGR24 (libv4lconvert converts); what the camera itself offers and sends is
// asked of the driver directly (`driverIoctl`).
import CV4L2
import Glibc
import SafeFiles

/// A V4L2 ioctl request: its name (for errors) and its number.
///
/// The `VIDIOC_*` macros expand to `_IOR`/`_IOWR` expressions Swift cannot import, so the numbers are rebuilt
/// here from the same recipe as `<asm-generic/ioctl.h>`: direction (2 bits), argument size (14 bits), type 'V',
/// request number.
struct V4L2Request: Sendable {
    let name: String
    let code: UInt

    private static let write: UInt = 1
    private static let read: UInt = 2

    private init<Argument>(_ name: String, direction: UInt, number: UInt, _ argument: Argument.Type) {
        self.name = name
        code = direction << 30 | UInt(MemoryLayout<Argument>.size) << 16 | UInt(UInt8(ascii: "V")) << 8 | number
    }

    static let queryCapability = V4L2Request("VIDIOC_QUERYCAP", direction: read, number: 0, v4l2_capability.self)
    static let enumerateFormat = V4L2Request(
        "VIDIOC_ENUM_FMT", direction: read | write, number: 2, v4l2_fmtdesc.self)
    static let getFormat = V4L2Request("VIDIOC_G_FMT", direction: read | write, number: 4, v4l2_format.self)
    static let setFormat = V4L2Request("VIDIOC_S_FMT", direction: read | write, number: 5, v4l2_format.self)
    static let requestBuffers = V4L2Request(
        "VIDIOC_REQBUFS", direction: read | write, number: 8, v4l2_requestbuffers.self)
    static let queryBuffer = V4L2Request("VIDIOC_QUERYBUF", direction: read | write, number: 9, v4l2_buffer.self)
    static let queueBuffer = V4L2Request("VIDIOC_QBUF", direction: read | write, number: 15, v4l2_buffer.self)
    static let dequeueBuffer = V4L2Request("VIDIOC_DQBUF", direction: read | write, number: 17, v4l2_buffer.self)
    static let streamOn = V4L2Request("VIDIOC_STREAMON", direction: write, number: 18, Int32.self)
    static let streamOff = V4L2Request("VIDIOC_STREAMOFF", direction: write, number: 19, Int32.self)
    static let getParameters = V4L2Request(
        "VIDIOC_G_PARM", direction: read | write, number: 21, v4l2_streamparm.self)
    static let setParameters = V4L2Request(
        "VIDIOC_S_PARM", direction: read | write, number: 22, v4l2_streamparm.self)
    static let enumerateFrameSizes = V4L2Request(
        "VIDIOC_ENUM_FRAMESIZES", direction: read | write, number: 74, v4l2_frmsizeenum.self)
    static let enumerateFrameIntervals = V4L2Request(
        "VIDIOC_ENUM_FRAMEINTERVALS", direction: read | write, number: 75, v4l2_frmivalenum.self)
}

/// A fourcc code such as "BGR3" as V4L2 stores it (first character in the lowest byte).
func fourcc(_ text: String) -> UInt32 {
    precondition(text.utf8.count == 4, "a fourcc has four characters")
    return text.utf8.enumerated().reduce(0) { $0 | UInt32($1.element) << (8 * UInt32($1.offset)) }
}

/// The four characters of a fourcc code, e.g. "YUYV".
func fourccText(_ code: UInt32) -> String {
    let bytes = (0..<4).map { UInt8(truncatingIfNeeded: code >> (8 * $0)) }
    return String(decoding: bytes, as: UTF8.self).trimmingCharacters(in: " ")
}

extension String {
    fileprivate func trimmingCharacters(in set: Character) -> String {
        var text = Substring(self)
        while text.last == set || text.last == "\0" { text.removeLast() }
        return String(text)
    }
}

/// A C character array of a V4L2 struct (e.g. `v4l2_capability.card`) as a String safe to print: a driver's
/// bytes that are not UTF-8, and control characters (a terminal would obey escape sequences), shown as `\xHH`.
func cString<T>(_ tuple: T) -> String {
    withUnsafeBytes(of: tuple) { raw in
        let shown = SystemPath(bytes: raw.prefix { $0 != 0 }).description
        var text = ""
        for scalar in shown.unicodeScalars {
            if scalar.value < 0x20 || scalar.value == 0x7F {
                text += "\\x" + (scalar.value < 0x10 ? "0" : "") + String(scalar.value, radix: 16)
            } else {
                text.unicodeScalars.append(scalar)
            }
        }
        return text
    }
}

let bufferTypeCapture = UInt32(V4L2_BUF_TYPE_VIDEO_CAPTURE.rawValue)
/// The character-device major number of every video4linux node (the kernel's VIDEO_MAJOR).
let videoMajor: UInt32 = 81
let memoryMMap = UInt32(V4L2_MEMORY_MMAP.rawValue)
let pixelFormatBGR24 = fourcc("BGR3")

/// A node's answer to QUERYCAP: names and what it can do.
struct V4L2Capability: Sendable, Equatable {
    /// The driver, e.g. "uvcvideo".
    var driver: String
    /// The device's name, e.g. "HD Webcam C525".
    var card: String
    /// Where it is attached, e.g. "usb-0000:00:14.0-1"; the nodes of one camera share it.
    var bus: String
    /// The capabilities of this node (`device_caps` when the driver gives them, V4L2_CAP_*).
    var node: UInt32

    init(_ capability: v4l2_capability) {
        driver = cString(capability.driver)
        card = cString(capability.card)
        bus = cString(capability.bus_info)
        node =
            capability.capabilities & UInt32(V4L2_CAP_DEVICE_CAPS) != 0
            ? capability.device_caps : capability.capabilities
    }

    var isVideoCapture: Bool { node & UInt32(V4L2_CAP_VIDEO_CAPTURE) != 0 }
    var isMetadata: Bool { node & UInt32(V4L2_CAP_META_CAPTURE) != 0 }
    var canStream: Bool { node & UInt32(V4L2_CAP_STREAMING) != 0 }
}

/// An open V4L2 device node and the buffers mapped from it. Closing (explicitly or in `deinit`) stops
/// streaming, unmaps the buffers and closes the descriptor, in that order.
final class V4L2Device {
    let path: String
    private(set) var descriptor: Int32
    private(set) var buffers: [UnsafeMutableRawBufferPointer] = []
    private var streaming = false

    /// Opens `path` non-blocking through libv4l2.
    ///
    /// A path that exists but is not a video4linux character device (major 81) is refused before it is opened,
    /// with `CameraError.notV4L2Device`: opening an arbitrary device can have effects of its own, and libv4l2
    /// would only answer "Inappropriate ioctl for device". A path that does not exist is still tried (libv4l2
    /// may be given paths the file system does not show, as the tests' simulated devices are).
    init(path: String) throws {
        self.path = path
        if let refusal = V4L2Device.refusal(path) { throw refusal }
        // By its bytes: a name that is not UTF-8 names the node as typed (see `SystemPath`).
        let node = SystemPath(path)
        let fd = node.withCString { clipcam_v4l2_open($0, O_RDWR | O_NONBLOCK | O_CLOEXEC) }
        guard fd >= 0 else {
            let code = errno
            switch code {
            case ENXIO, ENODEV:
                // The node is there but nothing answers on it; when it is gone too, it is missing.
                guard let number = DeviceNumber(of: node) else {
                    throw CameraError.missing(device: path, available: V4L2Device.present())
                }
                throw CameraError.noDriver(device: path, number: number.description)
            case ENOENT: throw CameraError.missing(device: path, available: V4L2Device.present())
            case EBUSY: throw CameraError.busy(device: path)
            case EACCES, EPERM: throw CameraError.permissionDenied(device: path)
            case ENOTTY, EINVAL:
                throw CameraError.notV4L2Device(device: path, what: "a device that does not answer V4L2's QUERYCAP")
            default: throw CameraError.openFailed(device: path, errno: code)
            }
        }
        descriptor = fd
    }

    /// Why `path` cannot be a V4L2 device node, judged from `stat` alone; nil when it may be one.
    static func refusal(_ path: String) -> CameraError? {
        let node = SystemPath(path)
        switch FileKind.of(node) {
        case .missing: return nil
        case .characterDevice:
            guard let number = DeviceNumber(of: node), number.major != videoMajor else { return nil }
            return .notV4L2Device(
                device: path, what: "a character device (\(number); video4linux devices are \(videoMajor):N)")
        case .directory: return .notV4L2Device(device: path, what: "a folder")
        case .regular: return .notV4L2Device(device: path, what: "a regular file")
        case .blockDevice:
            let number = DeviceNumber(of: node).map { " (\($0))" } ?? ""
            return .notV4L2Device(device: path, what: "a block device\(number), a disk or partition,")
        case let kind: return .notV4L2Device(device: path, what: kind.noun)
        }
    }

    deinit {
        close()
    }

    /// The video device nodes that exist, e.g. ["/dev/video0", "/dev/video1"].
    static func present() -> [String] {
        guard let directory = opendir("/dev") else { return [] }
        defer { closedir(directory) }
        var names: [String] = []
        while let entry = readdir(directory) {
            let name = withUnsafeBytes(of: entry.pointee.d_name) { raw in
                String(decoding: raw.prefix { $0 != 0 }, as: UTF8.self)
            }
            if name.hasPrefix("video") { names.append("/dev/" + name) }
        }
        return names.sorted(by: naturalOrder)
    }

    /// Runs one ioctl: retries when interrupted (EINTR) and throws `ioctlFailed` naming the device, the request
    /// and the errno text otherwise.
    func ioctl<Argument>(_ request: V4L2Request, _ argument: inout Argument) throws {
        precondition(descriptor >= 0, "ioctl on a closed device")
        while true {
            let result = withUnsafeMutablePointer(to: &argument) {
                clipcam_v4l2_ioctl(descriptor, request.code, UnsafeMutableRawPointer($0))
            }
            if result != -1 { return }
            let code = errno
            if code == EINTR { continue }
            throw CameraError.ioctlFailed(device: path, ioctl: request.name, errno: code)
        }
    }

    /// Runs one ioctl on the driver itself, bypassing libv4l2's emulation: ENUM_FMT then lists only the formats
    /// the camera sends and G_FMT gives the format it sends now. Retries on EINTR; throws `ioctlFailed`.
    func driverIoctl<Argument>(_ request: V4L2Request, _ argument: inout Argument) throws {
        precondition(descriptor >= 0, "ioctl on a closed device")
        while true {
            let result = withUnsafeMutablePointer(to: &argument) {
                clipcam_driver_ioctl(descriptor, request.code, UnsafeMutableRawPointer($0))
            }
            if result != -1 { return }
            let code = errno
            if code == EINTR { continue }
            throw CameraError.ioctlFailed(device: path, ioctl: request.name, errno: code)
        }
    }

    /// QUERYCAP: what the node is. Throws `ioctlFailed` (ENODEV once the device has gone).
    func capability() throws -> V4L2Capability {
        var capability = v4l2_capability()
        try ioctl(.queryCapability, &capability)
        return V4L2Capability(capability)
    }

    /// Requests `count` memory-mapped buffers and maps each one; returns how many the driver granted.
    func mapBuffers(count: Int) throws -> Int {
        var request = v4l2_requestbuffers()
        request.count = UInt32(count)
        request.type = bufferTypeCapture
        request.memory = memoryMMap
        try ioctl(.requestBuffers, &request)
        for index in 0..<Int(request.count) {
            var buffer = v4l2_buffer()
            buffer.type = bufferTypeCapture
            buffer.memory = memoryMMap
            buffer.index = UInt32(index)
            try ioctl(.queryBuffer, &buffer)
            let length = Int(buffer.length)
            guard
                let base = v4l2_mmap(
                    nil, length, PROT_READ | PROT_WRITE, MAP_SHARED, descriptor,
                    Int64(buffer.m.offset)),
                base != MAP_FAILED
            else { throw CameraError.mmapFailed(device: path, buffer: index, errno: errno) }
            buffers.append(UnsafeMutableRawBufferPointer(start: base, count: length))
        }
        return buffers.count
    }

    func queue(_ index: Int) throws {
        var buffer = v4l2_buffer()
        buffer.type = bufferTypeCapture
        buffer.memory = memoryMMap
        buffer.index = UInt32(index)
        try ioctl(.queueBuffer, &buffer)
    }

    func streamOn() throws {
        var type = Int32(bitPattern: bufferTypeCapture)
        try ioctl(.streamOn, &type)
        streaming = true
    }

    /// Stops streaming, unmaps the buffers and closes the device. Errors are ignored: the device may be gone.
    func close() {
        guard descriptor >= 0 else { return }
        if streaming {
            var type = Int32(bitPattern: bufferTypeCapture)
            try? ioctl(.streamOff, &type)
            streaming = false
        }
        for buffer in buffers {
            v4l2_munmap(buffer.baseAddress, buffer.count)
        }
        buffers = []
        v4l2_close(descriptor)
        descriptor = -1
    }
}
