package org.tipline.app.platform

import android.content.Context
import android.security.keystore.KeyGenParameterSpec
import android.security.keystore.KeyProperties
import android.util.Base64
import java.security.GeneralSecurityException
import java.security.SecureRandom
import javax.crypto.Cipher
import javax.crypto.KeyGenerator
import javax.crypto.SecretKey
import javax.crypto.spec.GCMParameterSpec
import org.tipline.ffi.ApiException
import org.tipline.ffi.KeyStore

/**
 * The core's key store over the Android Keystore. The core asks for 32-byte keys by name; each is
 * drawn at random on first use and kept in the app's private preferences wrapped (AES-256-GCM,
 * the name bound as associated data) under one AES key that lives in the Android Keystore and
 * never leaves it (hardware-backed where the phone has it). Uninstalling the app destroys the
 * wrapping key, and with it everything the core sealed on this phone.
 */
class KeystoreKeyStore(context: Context) : KeyStore {
    private val preferences = context.getSharedPreferences("tipline-wrapped-keys", Context.MODE_PRIVATE)

    @Synchronized
    override fun key(name: String): ByteArray = try {
        preferences.getString(name, null)?.let { unwrap(name, it) } ?: create(name)
    } catch (e: GeneralSecurityException) {
        // No key material in the message: only what kind of failure it was.
        throw ApiException.Storage("android keystore: ${e.javaClass.simpleName}")
    } catch (e: IllegalArgumentException) {
        throw ApiException.Storage("android keystore: a wrapped key is unreadable")
    }

    private fun create(name: String): ByteArray {
        val secret = ByteArray(KEY_BYTES).also { SecureRandom().nextBytes(it) }
        val cipher = Cipher.getInstance(TRANSFORMATION)
        cipher.init(Cipher.ENCRYPT_MODE, wrappingKey())
        cipher.updateAAD(name.toByteArray())
        val wrapped = cipher.iv + cipher.doFinal(secret)
        // commit(), not apply(): the key must be on disk before anything is sealed with it.
        if (!preferences.edit().putString(name, Base64.encodeToString(wrapped, Base64.NO_WRAP)).commit()) {
            throw ApiException.Storage("android keystore: the wrapped key could not be stored")
        }
        return secret
    }

    private fun unwrap(name: String, stored: String): ByteArray {
        val wrapped = Base64.decode(stored, Base64.NO_WRAP)
        val cipher = Cipher.getInstance(TRANSFORMATION)
        cipher.init(Cipher.DECRYPT_MODE, wrappingKey(), GCMParameterSpec(TAG_BITS, wrapped, 0, IV_BYTES))
        cipher.updateAAD(name.toByteArray())
        return cipher.doFinal(wrapped, IV_BYTES, wrapped.size - IV_BYTES)
    }

    /** The AES key in the Android Keystore, created on first use. */
    private fun wrappingKey(): SecretKey {
        val keystore = java.security.KeyStore.getInstance(PROVIDER).apply { load(null) }
        (keystore.getKey(ALIAS, null) as? SecretKey)?.let { return it }
        val generator = KeyGenerator.getInstance(KeyProperties.KEY_ALGORITHM_AES, PROVIDER)
        generator.init(
            KeyGenParameterSpec.Builder(ALIAS, KeyProperties.PURPOSE_ENCRYPT or KeyProperties.PURPOSE_DECRYPT)
                .setBlockModes(KeyProperties.BLOCK_MODE_GCM)
                .setEncryptionPaddings(KeyProperties.ENCRYPTION_PADDING_NONE)
                .setKeySize(256)
                .build(),
        )
        return generator.generateKey()
    }

    private companion object {
        const val PROVIDER = "AndroidKeyStore"
        const val ALIAS = "tipline-key-wrapping"
        const val TRANSFORMATION = "AES/GCM/NoPadding"
        const val KEY_BYTES = 32
        const val IV_BYTES = 12
        const val TAG_BITS = 128
    }
}
