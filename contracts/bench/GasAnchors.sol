// SPDX-License-Identifier: MIT
pragma solidity ^0.8.24;

import {ERC1155} from "@openzeppelin/contracts/token/ERC1155/ERC1155.sol";
import {ERC721} from "@openzeppelin/contracts/token/ERC721/ERC721.sol";

/// @title ERC-1155 anchor for the gas benchmark
/// @notice Exposes OpenZeppelin's `_mintBatch` and plain transfers with nothing added, so
/// that `make bench` can compare the registry's gas per lot with the library's own cost.
contract ERC1155MintBatchAnchor is ERC1155("") {
    /// @notice Mints `values[i]` of token `ids[i]` to `to`, through `_mintBatch`.
    /// @param to The receiver.
    /// @param ids The token ids.
    /// @param values The amounts, one per id.
    function mintBatch(address to, uint256[] calldata ids, uint256[] calldata values) external {
        _mintBatch(to, ids, values, "");
    }
}

/// @title ERC-721 anchor for the gas benchmark
/// @notice Exposes OpenZeppelin's `_mint` for a range of token ids.
contract ERC721MintAnchor is ERC721("Anchor", "ANC") {
    /// @notice Mints tokens `firstId` to `firstId + count - 1` to `to`, one `_mint` each.
    /// @param to The receiver.
    /// @param firstId The first token id.
    /// @param count The number of tokens.
    function mintRange(address to, uint256 firstId, uint256 count) external {
        for (uint256 i = 0; i < count; ++i) {
            _mint(to, firstId + i);
        }
    }
}

/// @title Custody event source for the indexer benchmark
/// @notice Emits logs with the registry's `CustodyTransferred` signature, many per
/// transaction, so that the indexer benchmark reaches a million events in minutes.
/// It keeps no state: the events describe moves that no balance backs.
contract CustodyEventSource {
    /// @notice Same signature as the registry's event, so the registry ABI decodes it.
    event CustodyTransferred(
        uint256 indexed lotId,
        address indexed from,
        address indexed to,
        uint256 quantity,
        uint8 reason,
        bytes32 referenceHash,
        address operator
    );

    /// @notice Emits `count` events for lots `firstLotId` onwards, cycling over 1,000 lots.
    /// @param firstLotId The lot id of the first event.
    /// @param count The number of events.
    function emitTransfers(uint256 firstLotId, uint256 count) external {
        for (uint256 i = 0; i < count; ++i) {
            uint256 n = firstLotId + i;
            emit CustodyTransferred(
                n % 1000 + 1,
                address(uint160(0x1000 + n % 7)),
                address(uint160(0x2000 + n % 11)),
                1000 + n % 5000,
                uint8(n % 5),
                keccak256(abi.encode(n)),
                msg.sender
            );
        }
    }
}
