//! The installed-package functions of `_lifecycle`: InstallChaincode, QueryInstalledChaincode(s)
//! and GetInstalledChaincodePackage. They touch no ledger state.

use std::sync::PoisonError;

use fabric_protos::lifecycle as lb;

use super::Invocation;
use crate::error::{Context, LifecycleError};

impl Invocation<'_> {
    pub(super) fn install(
        &mut self,
        args: lb::InstallChaincodeArgs,
    ) -> Result<lb::InstallChaincodeResult, LifecycleError> {
        let package = &args.chaincode_install_package;
        let parsed = crate::package::parse_package(package)
            .context(|| "could not parse as a chaincode install package".to_owned())?;
        let (installed, _) = self
            .store()
            .save(&parsed.metadata.label, package)
            .context(|| "could not save cc install package".to_owned())?;
        let package_id = installed.package_id.clone();
        let mut built = self
            .scc
            .built
            .lock()
            .unwrap_or_else(PoisonError::into_inner);
        if built.contains(&package_id) {
            return Err(LifecycleError::rejected(format!(
                "chaincode already successfully installed (package ID '{package_id}')"
            )));
        }
        if let Err(reason) = self.scc.context.build(&installed, &parsed) {
            let _ = self.store().delete(&package_id);
            return Err(LifecycleError::rejected(format!(
                "could not build chaincode: {reason}"
            )));
        }
        built.insert(package_id.clone());
        Ok(lb::InstallChaincodeResult {
            package_id,
            label: installed.label,
        })
    }

    pub(super) fn query_installed(
        &mut self,
        args: lb::QueryInstalledChaincodeArgs,
    ) -> Result<lb::QueryInstalledChaincodeResult, LifecycleError> {
        let installed = self.store().get(&args.package_id)?.ok_or_else(|| {
            LifecycleError::rejected(format!(
                "could not find chaincode with package id '{}'",
                args.package_id
            ))
        })?;
        let references = self
            .scc
            .context
            .references(&installed.package_id)
            .into_iter()
            .map(|(channel, refs)| {
                let chaincodes = refs
                    .into_iter()
                    .map(|r| lb::query_installed_chaincode_result::Chaincode {
                        name: r.name,
                        version: r.version,
                    })
                    .collect();
                (
                    channel,
                    lb::query_installed_chaincode_result::References { chaincodes },
                )
            })
            .collect();
        Ok(lb::QueryInstalledChaincodeResult {
            package_id: installed.package_id,
            label: installed.label,
            references,
        })
    }

    pub(super) fn get_installed_package(
        &mut self,
        args: lb::GetInstalledChaincodePackageArgs,
    ) -> Result<lb::GetInstalledChaincodePackageResult, LifecycleError> {
        let bytes = self
            .store()
            .load(&args.package_id)
            .context(|| "could not load cc install package".to_owned())?;
        Ok(lb::GetInstalledChaincodePackageResult {
            chaincode_install_package: bytes,
        })
    }

    pub(super) fn query_all_installed(
        &mut self,
    ) -> Result<lb::QueryInstalledChaincodesResult, LifecycleError> {
        let mut installed_chaincodes = Vec::new();
        for installed in self.store().list()? {
            let references = self
                .scc
                .context
                .references(&installed.package_id)
                .into_iter()
                .map(|(channel, refs)| {
                    let chaincodes = refs
                        .into_iter()
                        .map(|r| lb::query_installed_chaincodes_result::Chaincode {
                            name: r.name,
                            version: r.version,
                        })
                        .collect();
                    (
                        channel,
                        lb::query_installed_chaincodes_result::References { chaincodes },
                    )
                })
                .collect();
            installed_chaincodes.push(lb::query_installed_chaincodes_result::InstalledChaincode {
                package_id: installed.package_id,
                label: installed.label,
                references,
            });
        }
        Ok(lb::QueryInstalledChaincodesResult {
            installed_chaincodes,
        })
    }
}
