# install(): headers, both libraries, an exported tornuv::tornuv target
# (the shared library) and tornuv.pc.
include(CMakePackageConfigHelpers)
install(DIRECTORY include/ DESTINATION ${CMAKE_INSTALL_INCLUDEDIR} FILES_MATCHING PATTERN "*.h")
install(TARGETS tornuv_shared EXPORT tornuvTargets
    LIBRARY DESTINATION ${CMAKE_INSTALL_LIBDIR}
    ARCHIVE DESTINATION ${CMAKE_INSTALL_LIBDIR}
    RUNTIME DESTINATION ${CMAKE_INSTALL_BINDIR})
install(TARGETS tornuv_static ARCHIVE DESTINATION ${CMAKE_INSTALL_LIBDIR})
install(EXPORT tornuvTargets NAMESPACE tornuv:: DESTINATION ${CMAKE_INSTALL_LIBDIR}/cmake/tornuv)
configure_package_config_file(cmake/tornuvConfig.cmake.in
    ${PROJECT_BINARY_DIR}/tornuvConfig.cmake
    INSTALL_DESTINATION ${CMAKE_INSTALL_LIBDIR}/cmake/tornuv)
write_basic_package_version_file(${PROJECT_BINARY_DIR}/tornuvConfigVersion.cmake
    COMPATIBILITY SameMinorVersion)
install(FILES ${PROJECT_BINARY_DIR}/tornuvConfig.cmake ${PROJECT_BINARY_DIR}/tornuvConfigVersion.cmake
    DESTINATION ${CMAKE_INSTALL_LIBDIR}/cmake/tornuv)
# tornuv.pc locates its prefix relative to itself, so an install with
# `cmake --install --prefix` elsewhere (the consumer test) still resolves.
file(RELATIVE_PATH TN_PC_RELPREFIX "/p/${CMAKE_INSTALL_LIBDIR}/pkgconfig" "/p")
configure_file(cmake/tornuv.pc.in ${PROJECT_BINARY_DIR}/tornuv.pc @ONLY)
install(FILES ${PROJECT_BINARY_DIR}/tornuv.pc DESTINATION ${CMAKE_INSTALL_LIBDIR}/pkgconfig)
