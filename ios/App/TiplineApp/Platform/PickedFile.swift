// A file the reporter picked, copied into the app's caches: the core reads it from there in
// chunks, so a long video never sits whole in memory. The copies are removed when the app
// starts; a filed report holds its own sealed copy in the outbox.
import CoreTransferable
import Foundation
import UniformTypeIdentifiers

struct PickedFile: Transferable {
    let url: URL
    let size: Int64

    /// Where the copies go.
    static var folder: URL {
        let caches = FileManager.default.urls(for: .cachesDirectory, in: .userDomainMask)[0]
        return caches.appendingPathComponent("picked", isDirectory: true)
    }

    /// Removes the copies of an earlier run.
    static func clearFolder() {
        try? FileManager.default.removeItem(at: folder)
    }

    /// Copies `source` (a file the picker or importer handed over) into the folder.
    static func copy(of source: URL) throws -> PickedFile {
        try FileManager.default.createDirectory(at: folder, withIntermediateDirectories: true)
        let copy = folder.appendingPathComponent(UUID().uuidString)
        try FileManager.default.copyItem(at: source, to: copy)
        let size = try FileManager.default.attributesOfItem(atPath: copy.path)[.size] as? Int64 ?? 0
        return PickedFile(url: copy, size: size)
    }

    static var transferRepresentation: some TransferRepresentation {
        // The photo library hands over a file, never the bytes in memory.
        FileRepresentation(importedContentType: .item) { received in
            try PickedFile.copy(of: received.file)
        }
    }
}
