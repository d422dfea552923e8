// Every symbol the zone's libnvidia-ml.so.1 exports, in two tables: those it answers with the zone's view, and
// those it exports only to answer NVML_ERROR_NOT_SUPPORTED (after NVML_ERROR_UNINITIALIZED when not initialised,
// as NVML checks that first). A program that dlsyms or links one of these finds it and gets an honest "no"; a
// symbol in neither table is absent (dlsym NULL, as on an older NVML). exports.map lists exactly these two tables
// (nvml_test checks it), and STATUS.md names them.
//
// The NOT_SUPPORTED table is what nvidia-smi, PyTorch (c10/cuda), pynvml-based tools (nvitop, gpustat), DCGM-style
// monitoring agents and Kubernetes device plugins commonly call: sensors (temperature, power, fans, clocks), board
// facts the zone cannot learn through CUDA (serial, VBIOS, inforom, brand, minor number: there is no
// /dev/nvidiaN in a zone), ECC and retired pages, PCIe link and throughput, encoder/decoder, NVLink, topology and
// affinity, MIG, vGPU, events, accounting, field values and samples, and every setter.
#pragma once

#define XG_NVML_ANSWERED(X)                \
  X(nvmlInit)                              \
  X(nvmlInit_v2)                           \
  X(nvmlInitWithFlags)                     \
  X(nvmlShutdown)                          \
  X(nvmlErrorString)                       \
  X(nvmlSystemGetDriverVersion)            \
  X(nvmlSystemGetNVMLVersion)              \
  X(nvmlSystemGetCudaDriverVersion)        \
  X(nvmlSystemGetCudaDriverVersion_v2)     \
  X(nvmlDeviceGetCount)                    \
  X(nvmlDeviceGetCount_v2)                 \
  X(nvmlDeviceGetHandleByIndex)            \
  X(nvmlDeviceGetHandleByIndex_v2)         \
  X(nvmlDeviceGetHandleByUUID)             \
  X(nvmlDeviceGetHandleByPciBusId)         \
  X(nvmlDeviceGetHandleByPciBusId_v2)      \
  X(nvmlDeviceGetIndex)                    \
  X(nvmlDeviceGetName)                     \
  X(nvmlDeviceGetUUID)                     \
  X(nvmlDeviceGetCudaComputeCapability)    \
  X(nvmlDeviceGetPciInfo)                  \
  X(nvmlDeviceGetPciInfo_v2)               \
  X(nvmlDeviceGetPciInfo_v3)               \
  X(nvmlDeviceGetMemoryInfo)               \
  X(nvmlDeviceGetMemoryInfo_v2)            \
  X(nvmlDeviceGetUtilizationRates)         \
  X(nvmlDeviceGetComputeRunningProcesses)  \
  X(nvmlDeviceGetComputeRunningProcesses_v2) \
  X(nvmlDeviceGetComputeRunningProcesses_v3) \
  X(nvmlDeviceGetGraphicsRunningProcesses) \
  X(nvmlDeviceGetGraphicsRunningProcesses_v2) \
  X(nvmlDeviceGetGraphicsRunningProcesses_v3) \
  X(nvmlDeviceGetMPSComputeRunningProcesses) \
  X(nvmlDeviceGetMPSComputeRunningProcesses_v2) \
  X(nvmlDeviceGetMPSComputeRunningProcesses_v3)

#define XG_NVML_NOT_SUPPORTED(X)                      \
  /* system, units */                                 \
  X(nvmlSystemGetProcessName)                         \
  X(nvmlSystemGetHicVersion)                          \
  X(nvmlSystemGetTopologyGpuSet)                      \
  X(nvmlSystemGetConfComputeCapabilities)             \
  X(nvmlSystemGetConfComputeState)                    \
  X(nvmlSystemGetConfComputeSettings)                 \
  X(nvmlSystemGetDriverBranch)                        \
  X(nvmlUnitGetCount)                                 \
  X(nvmlUnitGetHandleByIndex)                         \
  X(nvmlInternalGetExportTable)                       \
  /* board and identity */                            \
  X(nvmlDeviceGetMinorNumber)                         \
  X(nvmlDeviceGetBrand)                               \
  X(nvmlDeviceGetSerial)                              \
  X(nvmlDeviceGetHandleBySerial)                      \
  X(nvmlDeviceGetBoardId)                             \
  X(nvmlDeviceGetBoardPartNumber)                     \
  X(nvmlDeviceGetMultiGpuBoard)                       \
  X(nvmlDeviceGetVbiosVersion)                        \
  X(nvmlDeviceGetInforomVersion)                      \
  X(nvmlDeviceGetInforomImageVersion)                 \
  X(nvmlDeviceGetInforomConfigurationChecksum)        \
  X(nvmlDeviceValidateInforom)                        \
  X(nvmlDeviceGetArchitecture)                        \
  X(nvmlDeviceGetAttributes_v2)                       \
  X(nvmlDeviceGetModuleId)                            \
  X(nvmlDeviceGetNumGpuCores)                         \
  X(nvmlDeviceGetMemoryBusWidth)                      \
  X(nvmlDeviceGetBusType)                             \
  X(nvmlDeviceGetIrqNum)                              \
  X(nvmlDeviceGetPciInfoExt)                          \
  X(nvmlDeviceGetBAR1MemoryInfo)                      \
  X(nvmlDeviceGetConfComputeMemSizeInfo)              \
  X(nvmlDeviceGetConfComputeProtectedMemoryUsage)     \
  X(nvmlDeviceGetGspFirmwareMode)                     \
  X(nvmlDeviceGetGspFirmwareVersion)                  \
  X(nvmlDeviceGetBridgeChipInfo)                      \
  X(nvmlDeviceGetGpuFabricInfo)                       \
  X(nvmlDeviceGetGpuFabricInfoV)                      \
  X(nvmlDeviceGetC2cModeInfoV)                        \
  X(nvmlDeviceGetLastBBXFlushTime)                    \
  /* sensors, power, clocks, performance states */    \
  X(nvmlDeviceGetTemperature)                         \
  X(nvmlDeviceGetTemperatureV)                        \
  X(nvmlDeviceGetTemperatureThreshold)                \
  X(nvmlDeviceGetMarginTemperature)                   \
  X(nvmlDeviceGetThermalSettings)                     \
  X(nvmlDeviceGetCoolerInfo)                          \
  X(nvmlDeviceGetFanSpeed)                            \
  X(nvmlDeviceGetFanSpeed_v2)                         \
  X(nvmlDeviceGetTargetFanSpeed)                      \
  X(nvmlDeviceGetNumFans)                             \
  X(nvmlDeviceGetPowerUsage)                          \
  X(nvmlDeviceGetTotalEnergyConsumption)              \
  X(nvmlDeviceGetPowerState)                          \
  X(nvmlDeviceGetPowerSource)                         \
  X(nvmlDeviceGetPowerManagementMode)                 \
  X(nvmlDeviceGetPowerManagementLimit)                \
  X(nvmlDeviceGetPowerManagementLimitConstraints)     \
  X(nvmlDeviceGetPowerManagementDefaultLimit)         \
  X(nvmlDeviceGetEnforcedPowerLimit)                  \
  X(nvmlDeviceGetPerformanceState)                    \
  X(nvmlDeviceGetSupportedPerformanceStates)          \
  X(nvmlDeviceGetDynamicPstatesInfo)                  \
  X(nvmlDeviceGetMinMaxClockOfPState)                 \
  X(nvmlDeviceGetPerformanceModes)                    \
  X(nvmlDeviceGetClockInfo)                           \
  X(nvmlDeviceGetMaxClockInfo)                        \
  X(nvmlDeviceGetClock)                               \
  X(nvmlDeviceGetMaxCustomerBoostClock)               \
  X(nvmlDeviceGetApplicationsClock)                   \
  X(nvmlDeviceGetDefaultApplicationsClock)            \
  X(nvmlDeviceGetSupportedMemoryClocks)               \
  X(nvmlDeviceGetSupportedGraphicsClocks)             \
  X(nvmlDeviceGetAutoBoostedClocksEnabled)            \
  X(nvmlDeviceGetCurrentClocksThrottleReasons)        \
  X(nvmlDeviceGetCurrentClocksEventReasons)           \
  X(nvmlDeviceGetSupportedClocksThrottleReasons)      \
  X(nvmlDeviceGetSupportedClocksEventReasons)         \
  X(nvmlDeviceGetCurrentClockFreqs)                   \
  X(nvmlDeviceGetClockOffsets)                        \
  X(nvmlDeviceGetGpcClkVfOffset)                      \
  X(nvmlDeviceGetMemClkVfOffset)                      \
  X(nvmlDeviceGetClkMonStatus)                        \
  X(nvmlDeviceGetAdaptiveClockInfoStatus)             \
  X(nvmlDeviceGetViolationStatus)                     \
  /* modes */                                         \
  X(nvmlDeviceGetPersistenceMode)                     \
  X(nvmlDeviceGetDisplayMode)                         \
  X(nvmlDeviceGetDisplayActive)                       \
  X(nvmlDeviceGetComputeMode)                         \
  X(nvmlDeviceGetDriverModel)                         \
  X(nvmlDeviceGetDriverModel_v2)                      \
  X(nvmlDeviceGetGpuOperationMode)                    \
  X(nvmlDeviceGetVirtualizationMode)                  \
  X(nvmlDeviceGetHostVgpuMode)                        \
  X(nvmlDeviceGetAPIRestriction)                      \
  X(nvmlDeviceGetAccountingMode)                      \
  X(nvmlDeviceGetAccountingStats)                     \
  X(nvmlDeviceGetAccountingPids)                      \
  X(nvmlDeviceGetAccountingBufferSize)                \
  /* ECC, retired pages, row remapping */             \
  X(nvmlDeviceGetEccMode)                             \
  X(nvmlDeviceGetDefaultEccMode)                      \
  X(nvmlDeviceGetTotalEccErrors)                      \
  X(nvmlDeviceGetDetailedEccErrors)                   \
  X(nvmlDeviceGetMemoryErrorCounter)                  \
  X(nvmlDeviceGetRetiredPages)                        \
  X(nvmlDeviceGetRetiredPages_v2)                     \
  X(nvmlDeviceGetRetiredPagesPendingStatus)           \
  X(nvmlDeviceGetRemappedRows)                        \
  X(nvmlDeviceGetRowRemapperHistogram)                \
  /* PCIe */                                          \
  X(nvmlDeviceGetCurrPcieLinkGeneration)              \
  X(nvmlDeviceGetCurrPcieLinkWidth)                   \
  X(nvmlDeviceGetMaxPcieLinkGeneration)               \
  X(nvmlDeviceGetMaxPcieLinkWidth)                    \
  X(nvmlDeviceGetGpuMaxPcieLinkGeneration)            \
  X(nvmlDeviceGetPcieThroughput)                      \
  X(nvmlDeviceGetPcieReplayCounter)                   \
  X(nvmlDeviceGetPcieSpeed)                           \
  X(nvmlDeviceGetPcieLinkMaxSpeed)                    \
  /* engines, per-process utilisation, samples */     \
  X(nvmlDeviceGetEncoderUtilization)                  \
  X(nvmlDeviceGetDecoderUtilization)                  \
  X(nvmlDeviceGetJpgUtilization)                      \
  X(nvmlDeviceGetOfaUtilization)                      \
  X(nvmlDeviceGetEncoderCapacity)                     \
  X(nvmlDeviceGetEncoderStats)                        \
  X(nvmlDeviceGetEncoderSessions)                     \
  X(nvmlDeviceGetFBCStats)                            \
  X(nvmlDeviceGetFBCSessions)                         \
  X(nvmlDeviceGetProcessUtilization)                  \
  X(nvmlDeviceGetProcessesUtilizationInfo)            \
  X(nvmlDeviceGetRunningProcessDetailList)            \
  X(nvmlDeviceGetSamples)                             \
  X(nvmlDeviceGetFieldValues)                         \
  X(nvmlDeviceClearFieldValues)                       \
  /* topology, affinity, NVLink */                    \
  X(nvmlDeviceGetCpuAffinity)                         \
  X(nvmlDeviceGetCpuAffinityWithinScope)              \
  X(nvmlDeviceGetMemoryAffinity)                      \
  X(nvmlDeviceGetTopologyCommonAncestor)              \
  X(nvmlDeviceGetTopologyNearestGpus)                 \
  X(nvmlDeviceGetP2PStatus)                           \
  X(nvmlDeviceOnSameBoard)                            \
  X(nvmlDeviceGetNvLinkState)                         \
  X(nvmlDeviceGetNvLinkVersion)                       \
  X(nvmlDeviceGetNvLinkCapability)                    \
  X(nvmlDeviceGetNvLinkRemotePciInfo_v2)              \
  X(nvmlDeviceGetNvLinkRemoteDeviceType)              \
  X(nvmlDeviceGetNvLinkErrorCounter)                  \
  X(nvmlDeviceGetNvLinkUtilizationCounter)            \
  X(nvmlDeviceGetNvLinkUtilizationControl)            \
  /* MIG, vGPU */                                     \
  X(nvmlDeviceGetMigMode)                             \
  X(nvmlDeviceGetMaxMigDeviceCount)                   \
  X(nvmlDeviceGetMigDeviceHandleByIndex)              \
  X(nvmlDeviceIsMigDeviceHandle)                      \
  X(nvmlDeviceGetGpuInstanceId)                       \
  X(nvmlDeviceGetComputeInstanceId)                   \
  X(nvmlDeviceGetDeviceHandleFromMigDeviceHandle)     \
  X(nvmlDeviceGetGpuInstances)                        \
  X(nvmlDeviceGetGpuInstanceProfileInfo)              \
  X(nvmlDeviceGetGpuInstanceProfileInfoV)             \
  X(nvmlDeviceGetSupportedVgpus)                      \
  X(nvmlDeviceGetCreatableVgpus)                      \
  X(nvmlDeviceGetActiveVgpus)                         \
  X(nvmlDeviceGetVgpuCapabilities)                    \
  X(nvmlGetVgpuDriverCapabilities)                    \
  X(nvmlGetVgpuCompatibility)                         \
  X(nvmlGetVgpuVersion)                               \
  X(nvmlDeviceGetGridLicensableFeatures_v4)           \
  /* events */                                        \
  X(nvmlDeviceGetSupportedEventTypes)                 \
  X(nvmlEventSetCreate)                               \
  X(nvmlDeviceRegisterEvents)                         \
  X(nvmlEventSetWait)                                 \
  X(nvmlEventSetWait_v2)                              \
  X(nvmlEventSetFree)                                 \
  /* setters and actions: the zone manages nothing of the GPU */ \
  X(nvmlDeviceSetPersistenceMode)                     \
  X(nvmlDeviceSetComputeMode)                         \
  X(nvmlDeviceSetEccMode)                             \
  X(nvmlDeviceClearEccErrorCounts)                    \
  X(nvmlDeviceSetApplicationsClocks)                  \
  X(nvmlDeviceResetApplicationsClocks)                \
  X(nvmlDeviceSetGpuLockedClocks)                     \
  X(nvmlDeviceResetGpuLockedClocks)                   \
  X(nvmlDeviceSetMemoryLockedClocks)                  \
  X(nvmlDeviceResetMemoryLockedClocks)                \
  X(nvmlDeviceSetPowerManagementLimit)                \
  X(nvmlDeviceSetPowerManagementLimit_v2)             \
  X(nvmlDeviceSetAccountingMode)                      \
  X(nvmlDeviceClearAccountingPids)                    \
  X(nvmlDeviceSetMigMode)                             \
  X(nvmlDeviceSetAutoBoostedClocksEnabled)            \
  X(nvmlDeviceSetDefaultAutoBoostedClocksEnabled)     \
  X(nvmlDeviceSetAPIRestriction)                      \
  X(nvmlDeviceSetGpuOperationMode)                    \
  X(nvmlDeviceSetDriverModel)                         \
  X(nvmlDeviceSetFanSpeed_v2)                         \
  X(nvmlDeviceSetDefaultFanSpeed_v2)                  \
  X(nvmlDeviceSetTemperatureThreshold)                \
  X(nvmlDeviceSetNvLinkUtilizationControl)            \
  X(nvmlDeviceResetNvLinkErrorCounters)               \
  X(nvmlDeviceModifyDrainState)                       \
  X(nvmlDeviceQueryDrainState)                        \
  X(nvmlDeviceRemoveGpu)                              \
  X(nvmlDeviceRemoveGpu_v2)                           \
  X(nvmlDeviceDiscoverGpus)
