// ClipCamKit
