// The core's key store over the iOS Keychain: each 32-byte key the core names is drawn at random
// on first use and kept as a generic password item of this app, readable after the first unlock
// (so that background delivery works) and never migrated to another device or backup.
import Foundation
import Security
import TiplineFFI

final class KeychainKeyStore: KeyStore, @unchecked Sendable {
    private let service = "org.tipline.app.keys"
    private let lock = NSLock()

    func key(name: String) throws -> Data {
        lock.lock()
        defer { lock.unlock() }
        if let existing = try read(name) { return existing }
        var bytes = Data(count: 32)
        let drawn = bytes.withUnsafeMutableBytes { buffer in
            SecRandomCopyBytes(kSecRandomDefault, 32, buffer.baseAddress!)
        }
        guard drawn == errSecSuccess else { throw ApiError.Storage(detail: "keychain: no randomness (\(drawn))") }
        let attributes: [String: Any] = [
            kSecClass as String: kSecClassGenericPassword,
            kSecAttrService as String: service,
            kSecAttrAccount as String: name,
            kSecAttrAccessible as String: kSecAttrAccessibleAfterFirstUnlockThisDeviceOnly,
            kSecValueData as String: bytes,
        ]
        let status = SecItemAdd(attributes as CFDictionary, nil)
        guard status == errSecSuccess else { throw ApiError.Storage(detail: "keychain: add failed (\(status))") }
        return bytes
    }

    private func read(_ name: String) throws -> Data? {
        let query: [String: Any] = [
            kSecClass as String: kSecClassGenericPassword,
            kSecAttrService as String: service,
            kSecAttrAccount as String: name,
            kSecReturnData as String: true,
            kSecMatchLimit as String: kSecMatchLimitOne,
        ]
        var item: CFTypeRef?
        let status = SecItemCopyMatching(query as CFDictionary, &item)
        switch status {
        case errSecSuccess:
            guard let data = item as? Data, data.count == 32 else { throw ApiError.Storage(detail: "keychain: a key is malformed") }
            return data
        case errSecItemNotFound:
            return nil
        default:
            throw ApiError.Storage(detail: "keychain: read failed (\(status))")
        }
    }
}
