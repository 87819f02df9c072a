// The view models and the generated bindings as one plain Kotlin (JVM) library for the app.
// Maven builds and tests the same sources here (pom.xml beside this file); this Gradle build is
// what the Android app compiles against.
import org.jetbrains.kotlin.gradle.dsl.JvmTarget

plugins {
    alias(libs.plugins.kotlin.jvm)
}

java {
    sourceCompatibility = JavaVersion.VERSION_17
    targetCompatibility = JavaVersion.VERSION_17
}

kotlin {
    compilerOptions { jvmTarget.set(JvmTarget.JVM_17) }
    // The generated bindings (scripts/bindings writes them) are compiled into this library.
    sourceSets.named("main") { kotlin.srcDir("../bindings/src/main/kotlin") }
}

dependencies {
    api(libs.kotlinx.coroutines.core)
    // JNA's classes to compile against; the app ships JNA's Android AAR (classes and native parts).
    compileOnly(libs.jna)
    testImplementation(libs.jna)
    testImplementation(libs.junit.jupiter)
    testRuntimeOnly(libs.junit.platform.launcher)
}

// The JVM tests need the host library, the server and the desk helper built by cargo
// (scripts/test-bindings builds them); `mvn -f android/pom.xml test` is how they run in CI.
val repoRoot = rootDir.parentFile
val hostTarget = repoRoot.resolve("target/debug")
tasks.test {
    useJUnitPlatform()
    systemProperty("jna.library.path", hostTarget.path)
    systemProperty("tipline.root", repoRoot.path)
    systemProperty("tipline.target.dir", hostTarget.path)
}
