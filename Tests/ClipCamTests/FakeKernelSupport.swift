import Foundation
import Testing

/// The environment that makes clipcam see the simulated driver below the real libv4l2 and libv4lconvert
/// (Tests/FakeV4L2/fake_kernel_v4l2.c, built by scripts/build-fake-v4l2 next to the libv4l2 stand-in), configured
/// by `fake` (FAKE_KERNEL_* without the prefix).
func kernelCameraEnvironment(_ fake: [String: String]) throws -> [String: String] {
    let replacement = try fakeCameraLibrary.get()
    let library = URL(fileURLWithPath: replacement).deletingLastPathComponent()
        .appendingPathComponent("libfakekernelv4l2.so").path
    guard FileManager.default.fileExists(atPath: library) else {
        throw FakeCameraError(description: "scripts/build-fake-v4l2 did not build \(library) (needs libjpeg-dev)")
    }
    var environment = ["LD_PRELOAD": library]
    for (key, value) in fake { environment["FAKE_KERNEL_" + key] = value }
    return environment
}
