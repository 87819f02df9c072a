// The Android app's Gradle build (Kotlin DSL). Open this folder (android/) in Android Studio.
//
//   :app        the Jetpack Compose app (app/)
//   :viewmodel  the app's view models in plain Kotlin, compiled together with the generated
//               bindings (bindings/src/main/kotlin); the same sources that Maven compiles and
//               tests on the JVM (pom.xml beside this file)
//
// The Rust library for the phone ABIs goes into app/src/main/jniLibs: scripts/build-android-libs.
pluginManagement {
    repositories {
        google()
        mavenCentral()
        gradlePluginPortal()
    }
}

dependencyResolutionManagement {
    repositoriesMode.set(RepositoriesMode.FAIL_ON_PROJECT_REPOS)
    repositories {
        google()
        mavenCentral()
    }
}

rootProject.name = "tipline-android"
include(":app", ":viewmodel")
