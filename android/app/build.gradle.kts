// The Tipline Android app: Jetpack Compose screens over the view models (:viewmodel), which call
// the Rust core through the generated bindings and JNA. The Rust library for each ABI is built
// into src/main/jniLibs by scripts/build-android-libs (cargo-ndk) before this build.
import org.jetbrains.kotlin.gradle.dsl.JvmTarget

plugins {
    alias(libs.plugins.android.application)
    alias(libs.plugins.kotlin.android)
    alias(libs.plugins.kotlin.compose)
}

/** A Gradle property as a Java string literal for BuildConfig. */
fun quoted(name: String): String = "\"" + providers.gradleProperty(name).getOrElse("") + "\""

android {
    namespace = "org.tipline.app"
    compileSdk = 35

    defaultConfig {
        applicationId = "org.tipline.app"
        minSdk = 26
        targetSdk = 35
        versionCode = 1
        versionName = "0.1.0"
        buildConfigField("String", "SERVER_URL", quoted("tipline.serverUrl"))
        buildConfigField("String", "AUTHORITY_KEY", quoted("tipline.authorityKey"))
        ndk {
            // The ABIs scripts/build-android-libs builds.
            abiFilters += listOf("arm64-v8a", "armeabi-v7a", "x86_64")
        }
    }

    buildTypes {
        release {
            isMinifyEnabled = true
            proguardFiles(getDefaultProguardFile("proguard-android-optimize.txt"), "proguard-rules.pro")
        }
    }

    buildFeatures {
        compose = true
        buildConfig = true
    }

    compileOptions {
        sourceCompatibility = JavaVersion.VERSION_17
        targetCompatibility = JavaVersion.VERSION_17
    }
}

kotlin {
    compilerOptions { jvmTarget.set(JvmTarget.JVM_17) }
}

dependencies {
    implementation(project(":viewmodel"))
    // The generated bindings load the Rust library through JNA; on Android that is JNA's AAR.
    implementation("net.java.dev.jna:jna:${libs.versions.jna.get()}@aar")
    implementation(libs.kotlinx.coroutines.android)

    implementation(platform(libs.compose.bom))
    implementation(libs.compose.ui)
    implementation(libs.compose.foundation)
    implementation(libs.compose.material3)
    implementation(libs.compose.material.icons)
    implementation(libs.compose.ui.tooling.preview)
    debugImplementation(libs.compose.ui.tooling)
    implementation(libs.activity.compose)
    implementation(libs.navigation.compose)
    implementation(libs.lifecycle.runtime.ktx)
    implementation(libs.lifecycle.process)
    implementation(libs.work.runtime.ktx)
    implementation(libs.core.ktx)
}
